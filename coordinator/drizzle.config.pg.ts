// drizzle-kit config for the Postgres migrations: cd coordinator && bunx drizzle-kit generate --config drizzle.config.pg.ts
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema-pg.ts",
  out: "./src/db/migrations/pg",
});

// drizzle-kit config for the SQLite migrations: cd coordinator && bunx drizzle-kit generate --config drizzle.config.sqlite.ts
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema-sqlite.ts",
  out: "./src/db/migrations/sqlite",
});

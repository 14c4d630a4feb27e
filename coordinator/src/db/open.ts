// openRepository: picks the dialect from the database URL, connects, and applies pending migrations.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseError, describeCause } from "./errors.ts";
import { openPgRepository } from "./pg-repository.ts";
import type { Repository } from "./repository.ts";
import type { CheckpointerOptions } from "./sqlite-checkpoint.ts";
import { openSqliteRepository } from "./sqlite-repository.ts";
import { parseDatabaseUrl } from "./url.ts";

export { DatabaseError, type DatabaseErrorCode } from "./errors.ts";
export { redactUrl } from "./url.ts";

export interface OpenOptions {
  /** Where a relative SQLite path is resolved (the coordinator's --data-dir). */
  dataDir?: string;
  /** SQLite: WAL checkpoints in a background thread (the long-running coordinator; sqlite-checkpoint.ts). */
  backgroundCheckpoints?: CheckpointerOptions;
}

/**
 * `sqlite:<path>`, a plain file path or `:memory:` → SQLite (the file and its folder are created);
 * `postgres://…` / `postgresql://…` → Postgres. Throws a DatabaseError naming the URL (password
 * redacted): db_url_invalid, db_unreachable or db_migration_failed.
 */
export async function openRepository(url: string, options: OpenOptions = {}): Promise<Repository> {
  const target = parseDatabaseUrl(url, options.dataDir);
  if (target.dialect === "postgres") return openPgRepository(target.url);
  try {
    if (target.path !== ":memory:") mkdirSync(dirname(target.path), { recursive: true });
  } catch (error) {
    throw new DatabaseError("db_unreachable", `cannot create the folder of SQLite database ${target.path}: ${describeCause(error)}`, {
      cause: error,
    });
  }
  const repo = openSqliteRepository(target.path);
  if (options.backgroundCheckpoints) await repo.checkpointInBackground(options.backgroundCheckpoints);
  return repo;
}

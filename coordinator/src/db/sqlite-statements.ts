// Reuses compiled SQLite statements by SQL text: drizzle prepares every query afresh (issue 10: ~13% of the coordinator's CPU).
import type { Database } from "bun:sqlite";

/** Most distinct SQL texts kept; past it the cache starts again (texts differ only by list lengths). */
const MAX_STATEMENTS = 512;

/**
 * Makes `client.prepare` return a cached statement for SQL it has seen. Safe because bun:sqlite
 * runs a statement to completion within one synchronous call (drizzle uses run/all/get/values,
 * never iterators) and SQLite re-prepares a statement itself after a schema change.
 */
export function cacheStatements(client: Database): Database {
  const prepare = client.prepare.bind(client);
  const cache = new Map<string, ReturnType<Database["prepare"]>>();
  const cached = (sql: string, ...rest: unknown[]) => {
    if (rest.length > 0) return (prepare as (...a: unknown[]) => ReturnType<Database["prepare"]>)(sql, ...rest);
    let stmt = cache.get(sql);
    if (!stmt) {
      if (cache.size >= MAX_STATEMENTS) cache.clear();
      stmt = prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  client.prepare = cached as Database["prepare"];
  return client;
}

/**
 * `build(db)` made once per database and reused: how the per-job statements (prepared with
 * drizzle placeholders, sqlite-jobs.ts says why) are held for the module functions that take `db`.
 */
export function perDatabase<D extends object, T>(build: (db: D) => T): (db: D) => T {
  const built = new WeakMap<D, T>();
  return (db) => {
    let found = built.get(db);
    if (found === undefined) {
      found = build(db);
      built.set(db, found);
    }
    return found;
  };
}

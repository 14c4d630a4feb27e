// Test helpers for any package: a throwaway Postgres database per run, an in-memory SQLite repository.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { describeCause } from "./errors.ts";
import type { Repository } from "./repository.ts";
import { openSqliteRepository } from "./sqlite-repository.ts";
import { redactUrl } from "./url.ts";

/** An admin database on the test server (it must allow CREATE DATABASE). */
export const TEST_POSTGRES_ADMIN_URL = process.env.GOGRID_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Why the Postgres tests are switched off (GOGRID_TEST_POSTGRES=0), or null when they must run. */
export function postgresTestsDisabled(): string | null {
  return process.env.GOGRID_TEST_POSTGRES === "0" ? "GOGRID_TEST_POSTGRES=0 is set" : null;
}

/** Tables holding foreign keys to other tables: emptied before the tables they reference. */
const REFERENCING = new Set(["job_attempts", "certificates"]);

export interface FreshPostgres {
  /** URL of the new, empty database (no migrations applied yet). */
  url: string;
  /** Empties every table (migrations stay applied): a clean slate between tests. */
  reset(): Promise<void>;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * Creates database `gogrid_test_<random>` on the test server. Throws an actionable error when the
 * server cannot be reached: tests that need Postgres then fail instead of silently skipping.
 */
export async function freshPostgresUrl(): Promise<FreshPostgres> {
  const name = `gogrid_test_${randomBytes(6).toString("hex")}`;
  await withAdmin(async (admin) => {
    await admin.unsafe(`create database ${name}`);
  }).catch((error: unknown) => {
    throw new Error(
      `the Postgres tests need a server: creating a database through ${redactUrl(TEST_POSTGRES_ADMIN_URL)} failed (${describeCause(error)}). ` +
        "Start Postgres there, point GOGRID_TEST_POSTGRES_URL at another admin database, or set GOGRID_TEST_POSTGRES=0 to skip these tests.",
      { cause: error },
    );
  });
  const url = new URL(TEST_POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  let client: postgres.Sql | null = null;
  return {
    url: url.toString(),
    async reset() {
      client ??= postgres(url.toString(), { max: 1, onnotice: () => {} });
      const tables = await client<{ tablename: string }[]>`select tablename from pg_tables where schemaname = 'public'`;
      if (tables.length === 0) return;
      // DELETE is much faster than TRUNCATE on tables this small; tables with foreign keys go first.
      const names = tables.map((t) => t.tablename).sort((x, y) => Number(REFERENCING.has(y)) - Number(REFERENCING.has(x)));
      await client.begin((tx) => names.map((table) => tx.unsafe(`delete from "${table}"`)));
    },
    async drop() {
      await client?.end({ timeout: 5 });
      client = null;
      await withAdmin((admin) => admin.unsafe(`drop database if exists ${name} with (force)`));
    },
  };
}

/** A migrated, empty in-memory SQLite repository. */
export function freshSqlite(): Repository {
  return openSqliteRepository(":memory:");
}

async function withAdmin<T>(fn: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(TEST_POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    return await fn(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

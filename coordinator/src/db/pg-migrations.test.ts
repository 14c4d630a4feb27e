// Postgres migrations applied to a database that already holds rows: 0004 (a job holds a lease
// exactly while it runs) repairs the rows an older coordinator left behind instead of failing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { openPgRepository, PG_MIGRATIONS } from "./pg-repository.ts";
import { type FreshPostgres, freshPostgresUrl, postgresTestsDisabled } from "./testing.ts";

const disabled = postgresTestsDisabled();
if (disabled) console.warn(`postgres migration tests disabled: ${disabled}`);

/** A copy of the migrations folder holding only those up to `tag`. */
function migrationsUpTo(tag: string, into: string): string {
  const folder = join(into, "pg");
  cpSync(PG_MIGRATIONS, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((e) => e.tag === tag);
  if (last < 0) throw new Error(`no migration ${tag}`);
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

describe.skipIf(disabled !== null)("Postgres migration 0004_lease_only_running", () => {
  let pg: FreshPostgres;
  const work = mkdtempSync(join(tmpdir(), "gogrid-pg-migrations-"));
  beforeAll(async () => {
    pg = await freshPostgresUrl();
  });
  afterAll(async () => {
    await pg?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test("repairs leftover and missing leases, then refuses a running job without a lease", async () => {
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle({ client: sql }), { migrationsFolder: migrationsUpTo("0003_running_expiry_index", work) });
      const job = (id: string, status: string, lease: number | null) =>
        sql`insert into jobs (id, model, request, status, max_attempts, available_at, timeout_ms, created_at, updated_at, worker_id, fence, lease_expires_at, attempts)
            values (${id}, 'm', '{}'::jsonb, ${status}, 3, 1, 60000, 1, 1, ${status === "running" ? "w1" : null}, ${status === "running" ? "f1" : null}, ${lease}, 1)`;
      await job("done-with-lease", "completed", 5_000);
      await job("running-without-lease", "running", null);
      await job("running-ok", "running", 9_000_000_000_000);
      await job("queued-ok", "queued", null);

      const repo = await openPgRepository(pg.url);
      try {
        const leases = await sql<{ id: string; status: string; lease_expires_at: string | null }[]>`
          select id, status, lease_expires_at from jobs order by id`;
        expect(leases.map((r) => [r.id, r.status, r.lease_expires_at === null ? null : Number(r.lease_expires_at)])).toEqual([
          ["done-with-lease", "completed", null],
          ["queued-ok", "queued", null],
          ["running-ok", "running", 9_000_000_000_000],
          ["running-without-lease", "running", 0],
        ]);
        // the running job that had no lease is no longer stuck: the next sweep requeues it
        const requeued = await repo.requeueExpired(10_000, () => 10_000);
        expect(requeued.map((j) => [j.id, j.status])).toEqual([["running-without-lease", "queued"]]);
        // and the constraint now holds every write to it
        let refused: unknown;
        await sql`update jobs set status = 'running' where id = 'queued-ok'`.catch((error: unknown) => {
          refused = error;
        });
        expect((refused as { code?: string; constraint_name?: string }).code).toBe("23514");
        expect((refused as { constraint_name?: string }).constraint_name).toBe("jobs_lease_only_running");
      } finally {
        await repo.close();
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 30_000);
});

// The SQLite lease's candidate query: found along jobs_lease_idx, and compiled once, not on every run.
//
// SQLite's planner reads some bound values (the equalities in front of an ORDER BY ... LIMIT that an
// index answers, a LIMIT, a LIKE pattern) and then marks the statement to be compiled again the
// next time any of them is bound: the lease ran ~13 µs instead of ~0.4 µs for it (issue 9). The
// query therefore writes its constants into the SQL and binds the rest behind a unary plus.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { type Db, leaseCandidateQuery } from "./sqlite-jobs.ts";
import { openSqliteRepository } from "./sqlite-repository.ts";
import { newJob } from "./suite/context.ts";

describe("SQLite plans of the lease", () => {
  const work = mkdtempSync(join(tmpdir(), "gogrid-sqlite-plans-"));
  const path = join(work, "plans.sqlite");
  let client: Database;
  let db: Db;

  beforeAll(async () => {
    const repo = openSqliteRepository(path);
    // queued jobs of two models, one of them leased: the index has entries of several statuses
    for (let i = 0; i < 20; i++) await repo.enqueueJob(newJob(`j${i}`, 1_000 + i, { model: i % 2 === 0 ? "a" : "b" }));
    await repo.leaseNextJob({ workerId: "w1", models: ["a"], now: 2_000, leaseMs: 60_000, fence: "f1" });
    await repo.close();
    client = new Database(path);
    db = drizzle({ client }) as Db;
  });
  afterAll(() => {
    client?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("binds no value the planner reads: constants are in the text, every placeholder is +?", () => {
    const { sql, params } = leaseCandidateQuery(db);
    expect(sql).toContain("'queued'");
    expect(sql).toMatch(/ limit 1$/);
    const placeholders = sql.match(/.?\?/g) ?? [];
    expect(placeholders.length).toBe(params.length);
    expect(placeholders.length).toBeGreaterThan(0);
    expect(placeholders.filter((p) => p !== "+?")).toEqual([]);
  });

  test("walks jobs_lease_idx in order (no sort) and returns the oldest queued job of the model", () => {
    const { sql } = leaseCandidateQuery(db);
    // the query's placeholders in order: model, now, worker, member pattern, class, worker
    const args = ["a", 10_000, "w2", "%,w2,%", null, "w2"];
    const plan = (client.query(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join("\n");
    expect(plan).toContain("USING INDEX jobs_lease_idx (status=? AND model=?)");
    expect(plan).not.toContain("TEMP B-TREE");
    const row = client.query(sql).get(...args) as { created_at: number } | null;
    // job 0 (model a, created 1,000) was leased; the next of model a was created at 1,002
    expect(row?.created_at).toBe(1_002);
    expect(client.query(sql).get("c", 10_000, "w2", "%,w2,%", null, "w2")).toBeNull();
  });
});

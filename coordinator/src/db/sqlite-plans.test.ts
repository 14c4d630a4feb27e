// The plans SQLite picks for the queue's lookups: each along the partial index of its job state,
// and each compiled once, not on every run.
//
// SQLite's planner reads some bound values (the equalities in front of an ORDER BY ... LIMIT that an
// index answers, a LIMIT, a LIKE pattern) and then marks the statement to be compiled again the
// next time any of them is bound: the lease ran ~13 µs instead of ~0.4 µs for it (issue 9). A
// partial index is only used when the query names its state in the SQL text. So these queries
// write their constants into the text and bind the rest behind a unary plus.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { type Db, plannedQueries } from "./sqlite-jobs.ts";
import { openSqliteRepository } from "./sqlite-repository.ts";
import { newJob } from "./suite/context.ts";
import { uncreditedSqliteQuery } from "./uncredited.ts";

const RESULT = { text: "ok", finishReason: "stop", promptTokens: 1, completionTokens: 1 };

describe("SQLite plans of the queue", () => {
  const work = mkdtempSync(join(tmpdir(), "gogrid-sqlite-plans-"));
  const path = join(work, "plans.sqlite");
  let client: Database;
  let queries: ReturnType<typeof plannedQueries>;
  const plan = (sql: string, args: unknown[]) =>
    (client.query(`EXPLAIN QUERY PLAN ${sql}`).all(...(args as string[])) as { detail: string }[]).map((r) => r.detail).join("\n");

  beforeAll(async () => {
    const repo = openSqliteRepository(path);
    // queued jobs of two models; two leased (one of them completed): jobs in three states
    for (let i = 0; i < 20; i++) await repo.enqueueJob(newJob(`j${i}`, 1_000 + i, { model: i % 2 === 0 ? "a" : "b" }));
    const first = await repo.leaseNextJob({ workerId: "w1", models: ["a"], now: 2_000, leaseMs: 60_000, fence: "f1" });
    await repo.leaseNextJob({ workerId: "w1", models: ["b"], now: 2_000, leaseMs: 60_000, fence: "f2" });
    await repo.completeJob(first?.id as string, "f1", RESULT, 2_500);
    await repo.close();
    client = new Database(path);
    queries = plannedQueries(drizzle({ client }) as Db);
  });
  afterAll(() => {
    client?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("bind no value the planner reads: constants are in the text, every placeholder is +?", () => {
    for (const [name, { sql, params }] of Object.entries(queries)) {
      const placeholders = sql.match(/.?\?/g) ?? [];
      expect({ name, placeholders: placeholders.length }).toEqual({ name, placeholders: params.length });
      expect({ name, bare: placeholders.filter((p) => p !== "+?") }).toEqual({ name, bare: [] });
    }
    expect(queries.leaseCandidate.sql).toContain("'queued'");
    expect(queries.leaseCandidate.sql).toMatch(/ limit 1$/);
  });

  test("the lease walks jobs_lease_idx in order (no sort) to the oldest queued job of the model", () => {
    const { sql } = queries.leaseCandidate;
    // its placeholders in order: model, now, worker, member pattern, class, worker
    const args = ["a", 10_000, "w2", "%,w2,%", null, "w2"];
    const p = plan(sql, args);
    expect(p).toContain("USING INDEX jobs_lease_idx (model=?)");
    expect(p).not.toContain("TEMP B-TREE");
    // j0 (model a, created 1,000) was leased; the next of model a was created at 1,002
    expect((client.query(sql).get(...(args as string[])) as { created_at: number } | null)?.created_at).toBe(1_002);
    expect(client.query(sql).get("c", 10_000, "w2", "%,w2,%", null, "w2")).toBeNull();
  });

  test("the expiry sweep reads jobs_running_expiry_idx and finds only running jobs past their lease", () => {
    const { sql } = queries.expired;
    expect(plan(sql, [100_000])).toContain("USING INDEX jobs_running_expiry_idx (lease_expires_at<?)");
    expect((client.query(sql).all(100_000) as { id: string }[]).map((r) => r.id)).toEqual(["j1"]);
    expect(client.query(sql).all(2_000)).toEqual([]); // j1's lease runs to 62,000
  });

  test("the credit reconciler reads only the jobs owed their credit, along jobs_credit_pending_idx", () => {
    const query = uncreditedSqliteQuery(drizzle({ client }) as Db, { since: 0, until: 10_000, limit: 500 }).toSQL();
    const p = plan(query.sql, query.params);
    expect(p).toContain("USING INDEX jobs_credit_pending_idx (finished_at>? AND finished_at<?)");
    expect(p).not.toMatch(/SCAN jobs\b/);
    // j0 completed alone (completeJob: no ledger entry written with it), on a worker the test never made
    expect(client.query("select id from jobs where credit_pending = 1").values()).toEqual([["j0"]]);
  });

  test("the queued and running counts are answered from the partial indexes alone", () => {
    expect(plan(queries.countQueued.sql, [])).toContain("USING COVERING INDEX jobs_lease_idx");
    expect(plan(queries.countRunning.sql, [])).toContain("USING COVERING INDEX jobs_running_expiry_idx");
    expect(client.query(queries.countQueued.sql).values()).toEqual([[18]]);
    expect(client.query(queries.countRunning.sql).values()).toEqual([[1]]);
  });
});

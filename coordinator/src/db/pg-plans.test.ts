// The plans Postgres picks for the hot statements, read from auto_explain (sent to the client as
// NOTICEs) in the state that once misled it: a table whose statistics show few running jobs while
// its indexes still hold the entries of thousands of jobs completed since the last vacuum.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { openPgRepository, type PgRepository } from "./pg-repository.ts";
import { newJob } from "./suite/context.ts";
import { type FreshPostgres, freshPostgresUrl, postgresTestsDisabled } from "./testing.ts";

const disabled = postgresTestsDisabled();
if (disabled) console.warn(`postgres plan tests disabled: ${disabled}`);

const RESULT = { text: "ok", finishReason: "stop", promptTokens: 1, completionTokens: 1 };

/** The plan of the CTE `done` (the UPDATE of jobs) in an auto_explain text plan. */
function doneCte(plan: string): string {
  const start = plan.indexOf("CTE done");
  expect(start).toBeGreaterThanOrEqual(0);
  const end = plan.indexOf("CTE ended", start);
  return plan.slice(start, end < 0 ? undefined : end);
}

describe.skipIf(disabled !== null)("Postgres plans of the hot statements", () => {
  let pg: FreshPostgres;
  let repo: PgRepository;
  let admin: postgres.Sql;
  const notices: string[] = [];

  beforeAll(async () => {
    pg = await freshPostgresUrl();
    admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    const db = new URL(pg.url).pathname.slice(1);
    // every new session of this database explains each statement to its client
    await admin.unsafe(`alter database "${db}" set session_preload_libraries = 'auto_explain'`);
    await admin.unsafe(`alter database "${db}" set auto_explain.log_min_duration = 0`);
    await admin.unsafe(`alter database "${db}" set auto_explain.log_level = 'notice'`);
    repo = await openPgRepository(pg.url, { onNotice: (n) => notices.push(String(n.message)) });
  }, 60_000);
  afterAll(async () => {
    await repo?.close();
    await admin?.end({ timeout: 5 });
    await pg?.drop();
  });

  test("a batch of completions looks its jobs up by primary key", async () => {
    await admin`alter table jobs set (autovacuum_enabled = false)`;
    const total = 3_000;
    const left = 8;
    let now = 1_000;
    for (let i = 0; i < total; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, total - i) }, (_, k) => repo.enqueueJob(newJob(`j${i + k}`, now))));
    }
    // lease everything, complete all but `left`: each completion leaves a dead 'running' entry
    const running: { id: string; fence: string }[] = [];
    for (let round = 0; running.length < total; round++) {
      now += 1;
      const fences = Array.from({ length: 32 }, (_, k) => `f${round}-${k}`);
      const leased = await repo.leaseNextJobs({ workerId: "w1", models: ["m1"], now, leaseMs: 600_000, fences });
      expect(leased.length).toBeGreaterThan(0);
      running.push(...leased.map((j) => ({ id: j.id, fence: j.fence! })));
    }
    const done = running.slice(0, total - left);
    for (let i = 0; i < done.length; i += 200) {
      const batch = done.slice(i, i + 200);
      const completed = await Promise.all(batch.map((j) => repo.completeJob(j.id, j.fence, RESULT, now)));
      expect(completed.every((j) => j?.status === "completed")).toBe(true);
    }
    await admin`analyze jobs`;
    expect(await repo.countJobs("running")).toBe(left);

    notices.length = 0;
    const last = running.slice(total - left);
    const completed = await Promise.all(last.map((j) => repo.completeJob(j.id, j.fence, RESULT, now)));
    expect(completed.map((j) => j?.status)).toEqual(last.map(() => "completed"));
    const plans = notices.filter((n) => n.includes(`update "jobs" set "status" = 'completed'`));
    expect(plans.length).toBeGreaterThan(0);
    for (const plan of plans) {
      const update = doneCte(plan);
      expect(update).toContain("jobs_pkey");
      expect(update).not.toContain("jobs_lease_idx");
      expect(update).not.toContain("jobs_running_expiry_idx");
    }
  }, 120_000);

  test("a lease walks jobs_lease_idx in order; the expiry sweep reads jobs_running_expiry_idx", async () => {
    const now = 10_000;
    await Promise.all(Array.from({ length: 20 }, (_, k) => repo.enqueueJob(newJob(`q${k}`, now))));
    notices.length = 0;
    const leased = await repo.leaseNextJobs({ workerId: "w2", models: ["m1"], now, leaseMs: 1_000, fences: ["g1", "g2", "g3"] });
    expect(leased.map((j) => j.id)).toEqual(["q0", "q1", "q2"]);
    const lease = notices.find((n) => n.includes("with next as"));
    expect(lease).toContain("Index Scan using jobs_lease_idx on jobs");
    expect(lease).not.toContain("Seq Scan on jobs");
    // the index gives the order: no sort of every queued job of the model (the picked few are sorted to number them)
    expect(lease).not.toContain("Sort Key: jobs.priority");

    notices.length = 0;
    const requeued = await repo.requeueExpired(now + 2_000, () => now + 2_000);
    expect(requeued.map((j) => j.id).sort()).toEqual(leased.map((j) => j.id).sort());
    const sweep = notices.find((n) => n.includes(`"lease_expires_at" <=`));
    expect(sweep).toContain("jobs_running_expiry_idx");
    expect(sweep).not.toContain("Seq Scan on jobs");
  }, 60_000);
});

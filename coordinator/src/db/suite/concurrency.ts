// Shared repository tests: several coordinator instances on one database lease each job exactly once.
import { expect, test } from "bun:test";
import type { JobRow } from "../repository.ts";
import { lease, newJob, RESULT, type SuiteContext } from "./context.ts";

export function concurrencyTests(ctx: SuiteContext): void {
  test("two instances leasing 50 jobs concurrently: each job is leased exactly once", async () => {
    const [a, b] = await ctx.instances(2);
    for (let i = 0; i < 50; i++) await a!.enqueueJob(newJob(`job-${String(i).padStart(2, "0")}`, i, { priority: i % 3 }));

    const leased: JobRow[] = [];
    const worker = async (repo: NonNullable<typeof a>, name: string) => {
      for (;;) {
        const job = await repo.leaseNextJob(lease(name, 1_000));
        if (!job) return;
        leased.push(job);
      }
    };
    // Five workers per instance, all pulling at once.
    await Promise.all([a, b].flatMap((repo, r) => Array.from({ length: 5 }, (_, w) => worker(repo!, `i${r}-w${w}`))));

    const ids = leased.map((j) => j.id);
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
    expect(await b!.countJobs("running")).toBe(50);
    expect(await a!.countJobs("queued")).toBe(0);
    for (const job of leased.slice(0, 10)) {
      expect(job.attempts).toBe(1);
      expect(await b!.listAttempts(job.id)).toHaveLength(1);
    }

    // Completing through either instance, each job once, with its holder's fence.
    const completed = await Promise.all(leased.map((job, i) => [a, b][i % 2]!.completeJob(job.id, job.fence!, RESULT, 2_000)));
    expect(completed.every(Boolean)).toBe(true);
    expect(await a!.countJobs("completed")).toBe(50);
  });

  test("a stale result racing the requeue of an expired lease: exactly one of them wins", async () => {
    const [a, b] = await ctx.instances(2);
    for (let i = 0; i < 20; i++) await a!.enqueueJob(newJob(`r${i}`, i));
    const holders: JobRow[] = [];
    for (let i = 0; i < 20; i++) holders.push((await a!.leaseNextJob(lease("w", 100, ["m1"], 100)))!);

    const [requeued, ...completions] = await Promise.all([
      b!.requeueExpired(500, () => 500),
      ...holders.map((job) => a!.completeJob(job.id, job.fence!, RESULT, 500)),
    ]);
    const requeuedIds = new Set((requeued as JobRow[]).map((j) => j.id));
    holders.forEach((job, i) => {
      expect(requeuedIds.has(job.id)).toBe(!completions[i]);
    });
    expect((await a!.countJobs("completed")) + (await a!.countJobs("queued"))).toBe(20);
  });
}

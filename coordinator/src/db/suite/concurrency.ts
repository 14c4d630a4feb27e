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

  test("two instances leasing 60 jobs in batches concurrently: each job is leased exactly once, with its own fence", async () => {
    const [a, b] = await ctx.instances(2);
    for (let i = 0; i < 60; i++) await a!.enqueueJob(newJob(`job-${String(i).padStart(2, "0")}`, i, { priority: i % 4 }));
    const leased: JobRow[] = [];
    let batch = 0;
    const worker = async (repo: NonNullable<typeof a>, name: string) => {
      for (;;) {
        const { fence: _f, ...req } = lease(name, 1_000);
        const n = 1 + (batch++ % 5);
        const jobs = await repo.leaseNextJobs({ ...req, fences: Array.from({ length: n }, (_, i) => `${name}-${batch}-${i}`) });
        expect(jobs.length).toBeLessThanOrEqual(n);
        if (jobs.length === 0) return;
        leased.push(...jobs);
      }
    };
    await Promise.all([a, b].flatMap((repo, r) => Array.from({ length: 4 }, (_, w) => worker(repo!, `i${r}-w${w}`))));
    expect(leased).toHaveLength(60);
    expect(new Set(leased.map((j) => j.id)).size).toBe(60);
    expect(new Set(leased.map((j) => j.fence)).size).toBe(60);
    expect(await b!.countJobs("running")).toBe(60);
    for (const job of leased.slice(0, 12)) expect((await a!.listAttempts(job.id)).map((t) => t.fence)).toEqual([job.fence as string]);
  });

  test("a burst of enqueues and completions (one statement each on Postgres): every call answered as if alone", async () => {
    const repo = ctx.repo();
    await repo.createWorker({ nodeId: "n1", clientId: null, name: null, ownerId: "alice" }, 1);
    await repo.createApiKey({ id: "k1", keyHash: "h1", name: "k", createdAt: 1 });
    await repo.createApiKey({ id: "k2", keyHash: "h2", name: "k", createdAt: 1 });
    const ids = Array.from({ length: 40 }, (_, i) => `b${String(i).padStart(2, "0")}`);
    // one id twice: that call fails, alone
    const enqueued = await Promise.allSettled(
      [...ids, "b05"].map((id, i) =>
        repo.enqueueJob(newJob(id, 7, { apiKeyId: i % 2 === 0 ? "k1" : "k2", priority: i % 3 === 0 ? 1 : 0 })),
      ),
    );
    expect(enqueued.map((r) => r.status as string)).toEqual([...ids.map(() => "fulfilled"), "rejected"]);
    expect(enqueued.slice(0, 40).map((r) => (r as PromiseFulfilledResult<JobRow>).value.id)).toEqual(ids);
    expect(await repo.getJob("b05")).toMatchObject({ apiKeyId: "k2", request: newJob("b05", 7).request, status: "queued" });
    // leased in priority order, then the order they were submitted in
    const { fence: _f, ...req } = lease("n1", 10, ["m1"], 5_000);
    const leased = await repo.leaseNextJobs({ ...req, fences: ids.map((id) => `f-${id}`) });
    const order = [...ids.filter((_, i) => i % 3 === 0), ...ids.filter((_, i) => i % 3 !== 0)];
    expect(leased.map((j) => j.id)).toEqual(order);

    const credit = (job: JobRow, amountMicros: number) => ({
      entry: { jobId: job.id, nodeId: "n1", model: "m1", promptTokens: 2, completionTokens: 3, amountMicros, at: 20 },
      apiKeyId: job.apiKeyId,
    });
    const answers = await Promise.all(
      leased.map((job, i) =>
        i === 0
          ? repo.completeAndCreditJob(job.id, "stale", RESULT, 20, credit(job, 1))
          : i === 1
            ? repo.completeJob(job.id, job.fence!, RESULT, 20)
            : repo.completeAndCreditJob(job.id, job.fence!, { ...RESULT, text: `answer ${job.id}` }, 20, credit(job, i)),
      ),
    );
    expect(answers[0]).toBeNull();
    expect(answers[1]).toMatchObject({ id: leased[1]!.id, status: "completed" });
    for (const [i, a] of answers.entries()) {
      if (i < 2) continue;
      const got = a as { job: JobRow; credit: string | null };
      expect(got.credit).toBe("credited");
      expect(got.job).toMatchObject({ id: leased[i]!.id, status: "completed", resultText: `answer ${leased[i]!.id}`, finishedAt: 20 });
      expect((await repo.listAttempts(got.job.id))[0]).toMatchObject({ outcome: "completed", endedAt: 20 });
    }
    expect((await repo.getJob(leased[0]!.id))?.status).toBe("running");
    const ledger = await repo.listLedger({});
    expect(ledger).toHaveLength(38);
    expect(new Set(ledger.map((e) => e.ownerId))).toEqual(new Set(["alice"]));
    // each key charged the sum of its own jobs
    for (const key of ["k1", "k2"]) {
      const mine = leased.map((j, i) => [j, i] as const).filter(([j, i]) => i >= 2 && j.apiKeyId === key);
      expect(await repo.findApiKeyByHash(key === "k1" ? "h1" : "h2")).toMatchObject({
        promptTokens: 2 * mine.length,
        completionTokens: 3 * mine.length,
        costMicros: mine.reduce((sum, [, i]) => sum + i, 0),
      });
    }
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

// Shared repository tests: the durable job queue (ordering, leases, fencing, retries, expiry, cancel).
import { expect, test } from "bun:test";
import type { Repository } from "../repository.ts";
import { completedJob, lease, newJob, RESULT, type SuiteContext } from "./context.ts";

/** Jobs of models a, b and c in one order across models (priority, age, insertion), and one of model d. */
async function enqueueAcrossModels(repo: Repository): Promise<void> {
  await repo.enqueueJob(newJob("a-low", 1, { model: "a" }));
  await repo.enqueueJob(newJob("b-high", 5, { model: "b", priority: 3 }));
  await repo.enqueueJob(newJob("c-mid-old", 2, { model: "c", priority: 1 }));
  await repo.enqueueJob(newJob("a-mid-new", 3, { model: "a", priority: 1 }));
  for (const id of ["b-tie-1", "a-tie-2", "c-tie-3"]) await repo.enqueueJob(newJob(id, 4, { model: id[0] as string, priority: -1 }));
  await repo.enqueueJob(newJob("d-other", 0, { model: "d", priority: 9 }));
}

export function jobTests(ctx: SuiteContext): void {
  test("enqueue: defaults, JSON request round trip, getJob", async () => {
    const repo = ctx.repo();
    const job = await repo.enqueueJob(newJob("j1", 1_000, { apiKeyId: "k1" }));
    expect(job).toEqual({
      id: "j1",
      apiKeyId: "k1",
      model: "m1",
      request: { prompt: "prompt of j1", max_tokens: 16, nested: { stop: ["\n"], temperature: 0.5 } },
      status: "queued",
      priority: 0,
      attempts: 0,
      maxAttempts: 3,
      availableAt: 1_000,
      timeoutMs: 30_000,
      workerId: null,
      fence: null,
      leaseExpiresAt: null,
      originInstance: "i1",
      createdAt: 1_000,
      updatedAt: 1_000,
      startedAt: null,
      finishedAt: null,
      resultText: null,
      finishReason: null,
      promptTokens: null,
      completionTokens: null,
      error: null,
      purpose: "client",
      targetWorker: null,
      avoidWorkers: [],
      workerClass: null,
    });
    expect(await repo.getJob("j1")).toEqual(job);
    expect(await repo.getJob("nope")).toBeNull();
    await expect(repo.enqueueJob(newJob("j1", 2_000))).rejects.toThrow();
  });

  test("getJobs: the rows of the ids that exist, duplicates once, beyond one chunk of ids", async () => {
    const repo = ctx.repo();
    for (const id of ["g1", "g2", "g3"]) await repo.enqueueJob(newJob(id, 1));
    expect(await repo.getJobs([])).toEqual([]);
    const ids = ["g3", "nope", "g1", "g3", ...Array.from({ length: 1_200 }, (_, i) => `missing-${i}`), "g2"];
    const found = await repo.getJobs(ids);
    expect(found.map((j) => j.id).sort()).toEqual(["g1", "g2", "g3"]);
    expect(found.find((j) => j.id === "g2")).toEqual((await repo.getJob("g2"))!);
  });

  test("leaseNextJob: highest priority first, then oldest, then insertion order within one millisecond", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("low-old", 1));
    await repo.enqueueJob(newJob("high-old", 2, { priority: 5 }));
    await repo.enqueueJob(newJob("high-new", 3, { priority: 5 }));
    await repo.enqueueJob(newJob("low-new", 4));
    for (const id of ["mid-z", "mid-a", "mid-m"]) await repo.enqueueJob(newJob(id, 5, { priority: 1 }));
    await repo.enqueueJob(newJob("negative", 0, { priority: -1 }));
    const order: string[] = [];
    for (;;) {
      const job = await repo.leaseNextJob(lease("w1", 10));
      if (!job) break;
      order.push(job.id);
    }
    expect(order).toEqual(["high-old", "high-new", "mid-z", "mid-a", "mid-m", "low-old", "low-new", "negative"]);
  });

  test("leaseNextJob over several models: one order across them (priority, age, insertion), each model's best asked for", async () => {
    const repo = ctx.repo();
    await enqueueAcrossModels(repo);
    const order: string[] = [];
    for (;;) {
      const job = await repo.leaseNextJob(lease("w1", 10, ["a", "b", "c", "a"]));
      if (!job) break;
      order.push(job.id);
    }
    expect(order).toEqual(["b-high", "c-mid-old", "a-mid-new", "a-low", "b-tie-1", "a-tie-2", "c-tie-3"]);
    expect((await repo.getJob("d-other"))?.status).toBe("queued");
  });

  test("leaseNextJob: only the worker's models, never before availableAt", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("a1", 1, { model: "a", priority: 9 }));
    await repo.enqueueJob(newJob("b1", 2, { model: "b" }));
    await repo.enqueueJob(newJob("future", 500, { model: "c" }));
    expect(await repo.leaseNextJob(lease("w", 10, []))).toBeNull();
    expect(await repo.leaseNextJob(lease("w", 10, ["x"]))).toBeNull();
    expect((await repo.leaseNextJob(lease("w", 10, ["b", "x"])))?.id).toBe("b1");
    expect(await repo.leaseNextJob(lease("w", 499, ["c"]))).toBeNull();
    expect((await repo.leaseNextJob(lease("w", 500, ["c"])))?.id).toBe("future");
    expect((await repo.getJob("a1"))?.status).toBe("queued");
  });

  test("leaseNextJobs: the best jobs across models in one step, the i-th with the i-th fence, fewer when fewer qualify", async () => {
    const repo = ctx.repo();
    await enqueueAcrossModels(repo);
    await repo.enqueueJob(newJob("a-later", 50, { model: "a", priority: 9 }));
    await repo.enqueueJob(newJob("a-pinned", 1, { model: "a", priority: 9, targetWorker: "w2" }));
    const { fence: _f, ...req } = lease("w1", 10, ["a", "b", "c", "a"], 5_000);
    expect(await repo.leaseNextJobs({ ...req, fences: [] })).toEqual([]);
    expect(await repo.leaseNextJobs({ ...req, models: [], fences: ["x"] })).toEqual([]);

    const first = await repo.leaseNextJobs({ ...req, fences: ["f1", "f2", "f3"] });
    expect(first.map((j) => [j.id, j.fence])).toEqual([
      ["b-high", "f1"],
      ["c-mid-old", "f2"],
      ["a-mid-new", "f3"],
    ]);
    for (const job of first) {
      expect(job).toMatchObject({ status: "running", attempts: 1, workerId: "w1", leaseExpiresAt: 5_010, startedAt: 10 });
      expect(await repo.getJob(job.id)).toEqual(job);
      expect(await repo.listAttempts(job.id)).toEqual([
        {
          jobId: job.id,
          attempt: 1,
          workerId: "w1",
          fence: job.fence as string,
          startedAt: 10,
          endedAt: null,
          outcome: "running",
          error: null,
        },
      ]);
    }
    // four left for w1 (not d's, not one before its availableAt, not one pinned to w2): asked for six, given four
    const rest = await repo.leaseNextJobs({ ...req, fences: ["g1", "g2", "g3", "g4", "g5", "g6"] });
    expect(rest.map((j) => [j.id, j.fence])).toEqual([
      ["a-low", "g1"],
      ["b-tie-1", "g2"],
      ["a-tie-2", "g3"],
      ["c-tie-3", "g4"],
    ]);
    expect(await repo.leaseNextJobs({ ...req, fences: ["h1"] })).toEqual([]);
    expect(await repo.countJobs("queued")).toBe(3);
    expect((await repo.leaseNextJobs({ ...req, workerId: "w2", fences: ["p1", "p2"] })).map((j) => j.id)).toEqual(["a-pinned"]);
  });

  test("lease: running, attempts+1, fence, lease end, holder, an attempt row; no second lease", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("j1", 100));
    const req = lease("w1", 200, ["m1"], 5_000);
    const leased = await repo.leaseNextJob(req);
    expect(leased).toMatchObject({ id: "j1", status: "running", attempts: 1, workerId: "w1", fence: req.fence, leaseExpiresAt: 5_200 });
    expect(leased).toMatchObject({ startedAt: 200, updatedAt: 200 });
    expect(await repo.getJob("j1")).toEqual(leased);
    expect(await repo.listAttempts("j1")).toEqual([
      { jobId: "j1", attempt: 1, workerId: "w1", fence: req.fence, startedAt: 200, endedAt: null, outcome: "running", error: null },
    ]);
    expect(await repo.leaseNextJob(lease("w2", 300))).toBeNull();
    expect(await repo.leaseJob("j1", lease("w2", 300))).toBeNull();
    expect(await repo.getJob("j1")).toEqual(leased);
  });

  test("leaseJob: leases the picked queued job regardless of order; null when not queued", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("first", 1, { priority: 9 }));
    await repo.enqueueJob(newJob("picked", 2));
    const req = lease("w1", 10);
    expect(await repo.leaseJob("picked", req)).toMatchObject({ id: "picked", status: "running", fence: req.fence, attempts: 1 });
    expect(await repo.listAttempts("picked")).toHaveLength(1);
    expect(await repo.leaseJob("picked", lease("w2", 11))).toBeNull();
    expect(await repo.leaseJob("nope", lease("w2", 11))).toBeNull();
    expect((await repo.getJob("first"))?.status).toBe("queued");
  });

  test("completeJob: the current fence completes once; a stale fence is refused and changes nothing", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("j1", 1));
    const first = lease("w1", 10);
    await repo.leaseNextJob(first);
    const failed = await repo.failAttempt("j1", first.fence, { code: "worker_lost", message: "socket closed" }, 20, 15);
    expect(failed).toMatchObject({ status: "queued", workerId: null, fence: null, leaseExpiresAt: null });
    const second = lease("w2", 20);
    await repo.leaseNextJob(second);
    const before = await repo.getJob("j1");

    expect(await repo.completeJob("j1", first.fence, { ...RESULT, text: "late" }, 30)).toBeNull();
    expect(await repo.extendLease("j1", first.fence, 99_999)).toBe(false);
    expect(await repo.failAttempt("j1", first.fence, { code: "x", message: "late" }, 40, 30)).toBeNull();
    expect(await repo.getJob("j1")).toEqual(before);

    expect(await repo.extendLease("j1", second.fence, 50_000)).toBe(true);
    expect((await repo.getJob("j1"))?.leaseExpiresAt).toBe(50_000);
    const completed = await repo.completeJob("j1", second.fence, RESULT, 40);
    expect(completed).toEqual(await repo.getJob("j1")); // the stored row, as getJob reads it
    expect(completed).toMatchObject({
      status: "completed",
      resultText: RESULT.text,
      finishReason: "stop",
      promptTokens: 5,
      completionTokens: 4,
      finishedAt: 40,
      updatedAt: 40,
      workerId: "w2",
      fence: second.fence,
      leaseExpiresAt: null,
      error: null,
      attempts: 2,
      startedAt: 10,
    });
    expect(await repo.completeJob("j1", second.fence, RESULT, 41)).toBeNull();
    expect(await repo.extendLease("j1", second.fence, 60_000)).toBe(false);
    const attempts = await repo.listAttempts("j1");
    expect(attempts.map((a) => [a.attempt, a.workerId, a.outcome, a.endedAt, a.error])).toEqual([
      [1, "w1", "failed", 15, "worker_lost: socket closed"],
      [2, "w2", "completed", 40, null],
    ]);
  });

  test("failAttempt: requeued with backoff while attempts remain, then dead", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("j1", 1, { maxAttempts: 2 }));
    const a1 = lease("w1", 10);
    await repo.leaseNextJob(a1);
    const error = { code: "oom", message: "out of VRAM" };
    const requeued = await repo.failAttempt("j1", a1.fence, error, 1_000, 20);
    expect(requeued).toMatchObject({
      status: "queued",
      attempts: 1,
      availableAt: 1_000,
      error,
      updatedAt: 20,
      finishedAt: null,
      workerId: null,
    });
    expect(await repo.leaseNextJob(lease("w2", 999))).toBeNull();
    const a2 = lease("w2", 1_000);
    expect((await repo.leaseNextJob(a2))?.attempts).toBe(2);
    const dead = await repo.failAttempt("j1", a2.fence, { code: "oom", message: "again" }, 5_000, 1_100);
    expect(dead).toMatchObject({
      status: "dead",
      attempts: 2,
      finishedAt: 1_100,
      error: { code: "oom", message: "again" },
      leaseExpiresAt: null,
    });
    expect(await repo.getJob("j1")).toEqual(dead);
    expect(await repo.leaseNextJob(lease("w3", 10_000))).toBeNull();
    expect((await repo.listAttempts("j1")).map((a) => a.outcome)).toEqual(["failed", "failed"]);
    expect(await repo.countJobs("dead")).toBe(1);
  });

  test("requeueExpired: expired leases end as expired, jobs go back to the queue or to dead", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("expires", 1, { priority: 3 }));
    await repo.enqueueJob(newJob("last-try", 2, { priority: 2, maxAttempts: 1 }));
    await repo.enqueueJob(newJob("healthy", 3, { priority: 1 }));
    const e = lease("w1", 10, ["m1"], 100);
    const l = lease("w2", 10, ["m1"], 100);
    const h = lease("w3", 10, ["m1"], 10_000);
    for (const req of [e, l, h]) await repo.leaseNextJob(req);

    expect(await repo.requeueExpired(109, () => 0)).toEqual([]);
    const seen: string[] = [];
    const out = await repo.requeueExpired(110, (job) => {
      seen.push(`${job.id}:${job.status}:${job.attempts}:${job.workerId}`);
      return 110 + job.attempts * 1_000;
    });
    expect(seen.sort()).toEqual(["expires:running:1:w1", "last-try:running:1:w2"]);
    const byId = new Map(out.map((j) => [j.id, j]));
    expect([...byId.keys()].sort()).toEqual(["expires", "last-try"]);
    expect(byId.get("expires")).toMatchObject({ status: "queued", availableAt: 1_110, workerId: null, fence: null, leaseExpiresAt: null });
    expect(byId.get("expires")?.error?.code).toBe("lease_expired");
    expect(byId.get("last-try")).toMatchObject({ status: "dead", finishedAt: 110, fence: null });
    expect((await repo.getJob("healthy"))?.status).toBe("running");
    expect(await repo.listAttempts("expires")).toMatchObject([{ outcome: "expired", endedAt: 110 }]);

    // The lost worker's late result is refused; the next holder's is accepted.
    expect(await repo.completeJob("expires", e.fence, RESULT, 120)).toBeNull();
    expect(await repo.leaseNextJob(lease("w4", 1_109))).toBeNull();
    const again = lease("w4", 1_110);
    expect((await repo.leaseNextJob(again))?.id).toBe("expires");
    expect((await repo.completeJob("expires", again.fence, RESULT, 1_200))?.status).toBe("completed");
    expect(await repo.requeueExpired(100_000, () => 0)).toMatchObject([{ id: "healthy", status: "queued" }]);
  });

  test("cancelJob: queued or running jobs only; returns the holder; the holder's result is then refused", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("queued", 1));
    await repo.enqueueJob(newJob("running", 2, { priority: 1 }));
    await repo.enqueueJob(newJob("done", 3, { priority: 2 }));
    const d = lease("w0", 5);
    await repo.leaseNextJob(d);
    await repo.completeJob("done", d.fence, RESULT, 6);
    const r = lease("w1", 10);
    await repo.leaseNextJob(r);

    expect(await repo.cancelJob("queued", 20)).toMatchObject({ status: "cancelled", workerId: null, finishedAt: 20, updatedAt: 20 });
    const cancelled = await repo.cancelJob("running", 21);
    expect(cancelled).toMatchObject({ status: "cancelled", workerId: "w1", fence: r.fence, finishedAt: 21, leaseExpiresAt: null });
    expect(await repo.listAttempts("running")).toMatchObject([{ outcome: "cancelled", endedAt: 21 }]);
    expect(await repo.completeJob("running", r.fence, RESULT, 22)).toBeNull();
    expect(await repo.cancelJob("running", 23)).toBeNull();
    expect(await repo.cancelJob("done", 23)).toBeNull();
    expect(await repo.cancelJob("nope", 23)).toBeNull();
    expect(await repo.leaseNextJob(lease("w2", 30))).toBeNull();
  });

  test("deleteFinishedJobs: finished jobs that ended before the cut, oldest first, at most `limit`; attempts go, credits stay", async () => {
    const repo = ctx.repo();
    const finish = async (id: string, created: number, end: "complete" | "cancel" | "dead", at: number) => {
      if (end === "complete") return completedJob(repo, id, created, at, { maxAttempts: 1 });
      await repo.enqueueJob(newJob(id, created, { maxAttempts: 1 }));
      if (end === "cancel") return repo.cancelJob(id, at);
      const l = lease("w1", created);
      await repo.leaseJob(id, l);
      return repo.failAttempt(id, l.fence, { code: "boom", message: "worker failed" }, at, at);
    };
    expect((await finish("done-1", 10, "complete", 20))?.status).toBe("completed");
    expect((await finish("dead-2", 11, "dead", 30))?.status).toBe("dead");
    expect((await finish("cancelled-3", 12, "cancel", 40))?.status).toBe("cancelled");
    expect((await finish("done-4", 13, "complete", 50))?.status).toBe("completed");
    expect((await finish("late-5", 14, "complete", 500))?.status).toBe("completed"); // ended after the cut
    await repo.enqueueJob(newJob("queued-6", 15));
    await repo.enqueueJob(newJob("running-7", 16));
    expect(await repo.leaseJob("running-7", lease("w1", 17))).not.toBeNull();
    expect(
      await repo.creditJob(
        { jobId: "done-1", nodeId: "w1", model: "m1", promptTokens: 5, completionTokens: 4, amountMicros: 9, at: 20 },
        null,
      ),
    ).toBe("credited");

    expect(await repo.deleteFinishedJobs(100, 2)).toBe(2); // the two oldest
    expect(await repo.getJob("done-1")).toBeNull();
    expect(await repo.getJob("dead-2")).toBeNull();
    expect(await repo.listAttempts("done-1")).toEqual([]);
    expect(await repo.listAttempts("dead-2")).toEqual([]);
    expect(await repo.deleteFinishedJobs(100, 10)).toBe(2);
    expect(await repo.deleteFinishedJobs(100, 10)).toBe(0);
    expect((await repo.listJobs()).map((j) => j.id).sort()).toEqual(["late-5", "queued-6", "running-7"]);
    expect(await repo.listAttempts("late-5")).toHaveLength(1);
    expect((await repo.listLedger({})).map((e) => e.jobId)).toEqual(["done-1"]);
    // the cut is exclusive
    expect(await repo.deleteFinishedJobs(500, 10)).toBe(0);
    expect(await repo.deleteFinishedJobs(501, 10)).toBe(1);
    expect((await repo.listJobs()).map((j) => j.id).sort()).toEqual(["queued-6", "running-7"]);
  });

  test("countJobs, listJobs filters (status, worker, limit; newest first), listAttempts order", async () => {
    const repo = ctx.repo();
    for (let i = 1; i <= 5; i++) await repo.enqueueJob(newJob(`j${i}`, i * 10));
    await repo.leaseJob("j1", lease("wa", 100));
    await repo.leaseJob("j2", lease("wb", 100));
    const j3 = lease("wa", 100);
    await repo.leaseJob("j3", j3);
    await repo.completeJob("j3", j3.fence, RESULT, 110);

    expect(await repo.countJobs("queued")).toBe(2);
    expect(await repo.countJobs("running")).toBe(2);
    expect(await repo.countJobs("completed")).toBe(1);
    expect(await repo.countJobs("failed")).toBe(0);
    expect((await repo.listJobs()).map((j) => j.id)).toEqual(["j5", "j4", "j3", "j2", "j1"]);
    expect((await repo.listJobs({})).length).toBe(5);
    expect((await repo.listJobs({ status: ["running", "completed"] })).map((j) => j.id)).toEqual(["j3", "j2", "j1"]);
    expect((await repo.listJobs({ workerId: "wa" })).map((j) => j.id)).toEqual(["j3", "j1"]);
    expect((await repo.listJobs({ status: ["running"], workerId: "wa" })).map((j) => j.id)).toEqual(["j1"]);
    expect((await repo.listJobs({ limit: 2 })).map((j) => j.id)).toEqual(["j5", "j4"]);
    expect(await repo.listJobs({ status: [] })).toHaveLength(5);

    await repo.enqueueJob(newJob("multi", 1_000, { maxAttempts: 5 }));
    for (let n = 1; n <= 3; n++) {
      const req = lease(`w${n}`, 1_000 + n);
      await repo.leaseJob("multi", req);
      await repo.failAttempt("multi", req.fence, { code: "e", message: `try ${n}` }, 0, 1_000 + n);
    }
    expect((await repo.listAttempts("multi")).map((a) => [a.attempt, a.workerId, a.error])).toEqual([
      [1, "w1", "e: try 1"],
      [2, "w2", "e: try 2"],
      [3, "w3", "e: try 3"],
    ]);
    expect(await repo.listAttempts("nope")).toEqual([]);
  });
}

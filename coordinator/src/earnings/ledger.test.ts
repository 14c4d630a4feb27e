// Exactly-once crediting: a property over random job lifecycles on SQLite and Postgres, plus examples.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fc from "fast-check";
import { openRepository } from "../db/open.ts";
import type { JobRow, PriceRow, Repository } from "../db/repository.ts";
import { type FreshPostgres, freshPostgresUrl, freshSqlite, postgresTestsDisabled } from "../db/testing.ts";
import { type CreditResult, creditCompletedJob } from "./ledger.ts";
import { priceMicros } from "./pricing.ts";

setDefaultTimeout(120_000);

const PRICES: PriceRow[] = [
  { modelId: "m1", completionMicrosPer1k: 1_234, promptMicrosPer1k: 0 },
  { modelId: "m2", completionMicrosPer1k: 2_000_000, promptMicrosPer1k: 333 },
  // m3 has no price: credited with amount 0
];
const MODELS = ["m1", "m2", "m3"];
const WORKERS = [
  { nodeId: "w1", ownerId: "alice" },
  { nodeId: "w2", ownerId: null },
  { nodeId: "w3", ownerId: "alice" },
];
const KEYS = ["k1", "k2"];

type Op =
  | { op: "enqueue"; model: number; key: number; maxAttempts: number }
  | { op: "lease"; worker: number }
  | { op: "complete"; attempt: number; prompt: number; completion: number; credits: number; concurrent: boolean }
  | { op: "fail"; attempt: number }
  | { op: "expire" }
  | { op: "cancel"; job: number }
  | { op: "credit"; job: number; worker: number };

// Weighted so that most runs enqueue, lease and complete several jobs, with failures in between.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("enqueue" as const),
      model: fc.nat(2),
      key: fc.nat(2),
      maxAttempts: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("lease" as const), worker: fc.nat(2) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("complete" as const),
      // Mostly the newest attempts (current ones), sometimes an old, stale one.
      attempt: fc.oneof({ weight: 3, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: fc.nat() }),
      prompt: fc.integer({ min: 0, max: 5_000 }),
      completion: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 5_000 }) }),
      credits: fc.integer({ min: 0, max: 3 }),
      concurrent: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("fail" as const), attempt: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("expire" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("cancel" as const), job: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("credit" as const), job: fc.nat(), worker: fc.nat(2) }) },
);

async function seed(repo: Repository): Promise<void> {
  for (const p of PRICES) await repo.setPrice(p);
  for (const w of WORKERS) await repo.createWorker({ nodeId: w.nodeId, clientId: null, name: null, ownerId: w.ownerId }, 0);
  for (const k of KEYS) await repo.createApiKey({ id: k, keyHash: `hash-${k}`, name: k, createdAt: 0 });
}

/** Plays the ops as gateways would (crediting after each accepted completion, sometimes repeatedly), then checks the ledger. */
async function play(repo: Repository, ops: Op[]): Promise<void> {
  await seed(repo);
  let now = 1_000;
  const jobIds: string[] = [];
  const attempts: { jobId: string; fence: string; workerId: string }[] = [];
  const results: CreditResult[] = [];
  const credit = async (jobId: string, nodeId: string) => {
    const r = await creditCompletedJob(repo, { id: jobId }, nodeId, now);
    results.push(r);
    return r;
  };

  for (const o of ops) {
    now += 10;
    switch (o.op) {
      case "enqueue": {
        const id = `j${jobIds.length}`;
        jobIds.push(id);
        const apiKeyId = o.key < KEYS.length ? (KEYS[o.key] as string) : null;
        await repo.enqueueJob({
          id,
          apiKeyId,
          model: MODELS[o.model] as string,
          request: {},
          maxAttempts: o.maxAttempts,
          timeoutMs: 1_000,
          originInstance: null,
          now,
        });
        break;
      }
      case "lease": {
        const workerId = (WORKERS[o.worker] as (typeof WORKERS)[number]).nodeId;
        const fence = `f${attempts.length}`;
        const job = await repo.leaseNextJob({ workerId, models: MODELS, now, leaseMs: 100, fence });
        if (job) attempts.push({ jobId: job.id, fence, workerId });
        break;
      }
      case "complete": {
        if (attempts.length === 0) break;
        // Any attempt ever handed out: a current one, or a stale one (expired, failed, cancelled, done).
        const a = attempts[attempts.length - 1 - (o.attempt % attempts.length)] as (typeof attempts)[number];
        const done = await repo.completeJob(
          a.jobId,
          a.fence,
          { text: "x", finishReason: "stop", promptTokens: o.prompt, completionTokens: o.completion },
          now,
        );
        // The gateway credits an accepted result; a buggy or late one may also credit a refused one.
        const calls = done ? Math.max(1, o.credits) : o.credits;
        if (o.concurrent) await Promise.all(Array.from({ length: calls }, () => credit(a.jobId, a.workerId)));
        else for (let i = 0; i < calls; i++) await credit(a.jobId, a.workerId);
        break;
      }
      case "fail": {
        if (attempts.length === 0) break;
        const a = attempts[attempts.length - 1 - (o.attempt % attempts.length)] as (typeof attempts)[number];
        await repo.failAttempt(a.jobId, a.fence, { code: "boom", message: "failed" }, now, now);
        await credit(a.jobId, a.workerId);
        break;
      }
      case "expire": {
        now += 200;
        for (const job of await repo.requeueExpired(now, () => now)) await credit(job.id, "w1");
        break;
      }
      case "cancel": {
        if (jobIds.length === 0) break;
        const id = jobIds[o.job % jobIds.length] as string;
        const job = await repo.cancelJob(id, now);
        await credit(id, job?.workerId ?? "w1");
        break;
      }
      case "credit": {
        if (jobIds.length === 0) break;
        await credit(jobIds[o.job % jobIds.length] as string, (WORKERS[o.worker] as (typeof WORKERS)[number]).nodeId);
        break;
      }
    }
  }

  // What must be in the ledger: each completed job with output, once, priced from its stored tokens.
  const jobs = new Map<string, JobRow>();
  for (const id of jobIds) jobs.set(id, (await repo.getJob(id)) as JobRow);
  const paid = [...jobs.values()].filter((j) => j.status === "completed" && (j.completionTokens ?? 0) > 0);
  const price = new Map(PRICES.map((p) => [p.modelId, p]));
  const expected = new Map(paid.map((j) => [j.id, priceMicros(price.get(j.model) ?? null, j.promptTokens ?? 0, j.completionTokens ?? 0)]));

  const entries = await repo.listLedger({});
  expect(entries.map((e) => e.jobId).sort()).toEqual([...expected.keys()].sort());
  for (const e of entries) {
    const job = jobs.get(e.jobId) as JobRow;
    expect(e.amountMicros).toBe(expected.get(e.jobId) as number);
    expect(e.amountMicros).toBeGreaterThanOrEqual(0);
    expect(e.nodeId).toBe(job.workerId as string);
    expect(e.ownerId).toBe(WORKERS.find((w) => w.nodeId === e.nodeId)?.ownerId ?? null);
    expect([e.promptTokens, e.completionTokens]).toEqual([job.promptTokens as number, job.completionTokens as number]);
  }
  const total = [...expected.values()].reduce((s, v) => s + v, 0);
  expect(await repo.ledgerTotals({})).toMatchObject({ amountMicros: total, jobs: paid.length });
  // Each credit happened in exactly one call, and that call reported the amount.
  const credited = results.filter((r) => r.credited);
  expect(credited).toHaveLength(paid.length);
  expect(credited.reduce((s, r) => s + r.amountMicros, 0)).toBe(total);
  expect(results.every((r) => r.amountMicros >= 0)).toBe(true);

  // API key usage: added once per credited job, nothing for unpaid ones.
  for (const key of await repo.listApiKeys()) {
    const mine = paid.filter((j) => j.apiKeyId === key.id);
    expect([key.promptTokens, key.completionTokens, key.costMicros]).toEqual([
      mine.reduce((s, j) => s + (j.promptTokens ?? 0), 0),
      mine.reduce((s, j) => s + (j.completionTokens ?? 0), 0),
      mine.reduce((s, j) => s + (expected.get(j.id) as number), 0),
    ]);
  }
}

const opsArb = fc.array(opArb, { minLength: 10, maxLength: 60, size: "medium" });

describe("creditCompletedJob: exactly once per completed job with output (property)", () => {
  test("sqlite", async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, async (ops) => {
        const repo = freshSqlite();
        try {
          await play(repo, ops);
        } finally {
          await repo.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  const disabled = postgresTestsDisabled();
  if (disabled) {
    console.warn(`postgres ledger property disabled: ${disabled}`);
    return;
  }
  let pg: FreshPostgres | null = null;
  let repo: Repository | null = null;
  beforeAll(async () => {
    pg = await freshPostgresUrl();
    repo = await openRepository(pg.url);
  });
  afterAll(async () => {
    await repo?.close();
    await pg?.drop();
  });

  test("postgres", async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, async (ops) => {
        await pg?.reset();
        await play(repo as Repository, ops);
      }),
      { numRuns: 25 },
    );
  });
});

describe("creditCompletedJob: examples", () => {
  test("credits the completing worker and its owner once; usage to the key once; refusals say why", async () => {
    const repo = freshSqlite();
    try {
      await seed(repo);
      await repo.enqueueJob({ id: "a", apiKeyId: "k1", model: "m2", request: {}, timeoutMs: 1_000, originInstance: null, now: 1 });
      expect(await creditCompletedJob(repo, { id: "a" }, "w1", 2)).toEqual({ credited: false, amountMicros: 0, reason: "not_completed" });
      expect(await creditCompletedJob(repo, { id: "nope" }, "w1", 2)).toEqual({ credited: false, amountMicros: 0, reason: "unknown_job" });
      const job = (await repo.leaseNextJob({ workerId: "w1", models: ["m2"], now: 3, leaseMs: 100, fence: "f" })) as JobRow;
      await repo.completeJob("a", "f", { text: "t", finishReason: "stop", promptTokens: 1_000, completionTokens: 10 }, 4);

      expect(await creditCompletedJob(repo, job, "w2", 5)).toEqual({ credited: false, amountMicros: 0, reason: "other_worker" });
      // 10 × 2 USD/1k + 1000 × 333 µ/1k = 20000 + 333 micro-units
      expect(await creditCompletedJob(repo, job, "w1", 5)).toEqual({ credited: true, amountMicros: 20_333 });
      expect(await creditCompletedJob(repo, job, "w1", 6)).toEqual({ credited: false, amountMicros: 0, reason: "already_credited" });
      expect(await repo.listLedger({})).toEqual([
        { jobId: "a", nodeId: "w1", ownerId: "alice", model: "m2", promptTokens: 1_000, completionTokens: 10, amountMicros: 20_333, at: 5 },
      ]);
      expect((await repo.listApiKeys()).find((k) => k.id === "k1")).toMatchObject({
        promptTokens: 1_000,
        completionTokens: 10,
        costMicros: 20_333,
      });
    } finally {
      await repo.close();
    }
  });

  test("a model without a price is credited with 0 (usage tracked); zero output is not credited", async () => {
    const repo = freshSqlite();
    try {
      await seed(repo);
      for (const [id, tokens] of [
        ["free", 7],
        ["empty", 0],
      ] as const) {
        await repo.enqueueJob({ id, apiKeyId: "k2", model: "m3", request: {}, timeoutMs: 1_000, originInstance: null, now: 1 });
        await repo.leaseJob(id, { workerId: "w2", models: ["m3"], now: 2, leaseMs: 100, fence: `f-${id}` });
        await repo.completeJob(id, `f-${id}`, { text: "", finishReason: "stop", promptTokens: 3, completionTokens: tokens }, 3);
      }
      expect(await creditCompletedJob(repo, { id: "free" }, "w2", 4)).toEqual({ credited: true, amountMicros: 0 });
      expect(await creditCompletedJob(repo, { id: "empty" }, "w2", 4)).toEqual({ credited: false, amountMicros: 0, reason: "no_output" });
      expect(await repo.listLedger({})).toMatchObject([{ jobId: "free", ownerId: null, amountMicros: 0, completionTokens: 7 }]);
      expect((await repo.listApiKeys()).find((k) => k.id === "k2")).toMatchObject({ promptTokens: 3, completionTokens: 7, costMicros: 0 });
    } finally {
      await repo.close();
    }
  });
});

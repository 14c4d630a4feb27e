// Shared repository tests: prices, and the earnings ledger's totals, per-day groups and listing.
import { expect, test } from "bun:test";
import type { LedgerEntry } from "../repository.ts";
import { lease, newJob, RESULT, type SuiteContext } from "./context.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 2024-03-10T00:00:00Z, a Sunday. */
const SUN = Date.UTC(2024, 2, 10);

function entry(jobId: string, at: number, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { jobId, nodeId: "n1", ownerId: "o1", model: "m1", promptTokens: 10, completionTokens: 20, amountMicros: 100, at, ...extra };
}

export function ledgerTests(ctx: SuiteContext): void {
  test("creditJob: once per job with the worker's owner, the key's usage with it; never to a quarantined worker", async () => {
    const repo = ctx.repo();
    await repo.createWorker({ nodeId: "n1", clientId: null, name: null, ownerId: "alice" }, 1);
    await repo.createWorker({ nodeId: "bad", clientId: null, name: null, ownerId: "mallory" }, 1);
    await repo.createApiKey({ id: "k1", keyHash: "h1", name: "k", createdAt: 1 });
    const entry = { jobId: "j1", nodeId: "n1", model: "m1", promptTokens: 5, completionTokens: 7, amountMicros: 1_234, at: 10 };

    expect(await repo.creditJob(entry, "k1")).toBe("credited");
    expect(await repo.creditJob({ ...entry, amountMicros: 9_999, at: 11 }, "k1")).toBe("already_credited");
    expect(await repo.listLedger({})).toEqual([{ ...entry, ownerId: "alice" }]);
    expect(await repo.findApiKeyByHash("h1")).toMatchObject({ promptTokens: 5, completionTokens: 7, costMicros: 1_234 });

    // concurrent calls from several instances (SQLite: a database of their own; Postgres: the same one)
    const repos = await ctx.instances(3);
    if (!(await repos[0]!.findApiKeyByHash("h1"))) await repos[0]!.createApiKey({ id: "k1", keyHash: "h1", name: "k", createdAt: 1 });
    const before = await repos[0]!.findApiKeyByHash("h1");
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => repos[i % 3]!.creditJob({ ...entry, jobId: "j2", at: i }, "k1")));
    expect(results.filter((r) => r === "credited")).toHaveLength(1);
    expect((await repos[1]!.listLedger({})).filter((e) => e.jobId === "j2")).toHaveLength(1);
    const after = await repos[2]!.findApiKeyByHash("h1");
    expect([
      after!.promptTokens - before!.promptTokens,
      after!.completionTokens - before!.completionTokens,
      after!.costMicros - before!.costMicros,
    ]).toEqual([5, 7, 1_234]);

    // an unknown worker is credited without an owner; no key, no usage
    expect(await repo.creditJob({ ...entry, jobId: "j3", nodeId: "gone" }, null)).toBe("credited");
    expect((await repo.listLedger({ nodeId: "gone" }))[0]?.ownerId).toBeNull();

    const usage = await repo.findApiKeyByHash("h1");
    await repo.recordTrust(
      "bad",
      { matches: 0, mismatches: 20 },
      { score: (m, x) => (8 + m) / (8 + m + x), threshold: 0.7 },
      "cheater",
      20,
    );
    expect((await repo.getWorker("bad"))?.quarantinedAt).toBe(20);
    expect(await repo.creditJob({ ...entry, jobId: "j4", nodeId: "bad" }, "k1")).toBe("quarantined");
    expect(await repo.listLedger({ nodeId: "bad" })).toEqual([]);
    expect(await repo.findApiKeyByHash("h1")).toEqual(usage);
  });

  test("completeAndCreditJob: completes and credits in one step; a stale fence does neither; a failing credit undoes the completion", async () => {
    const repo = ctx.repo();
    await repo.createWorker({ nodeId: "n1", clientId: null, name: null, ownerId: "alice" }, 1);
    await repo.createWorker({ nodeId: "bad", clientId: null, name: null, ownerId: "mallory" }, 1);
    await repo.createApiKey({ id: "k1", keyHash: "h1", name: "k", createdAt: 1 });
    for (const id of ["j1", "j2", "j3", "j4", "j5"]) await repo.enqueueJob(newJob(id, 1, { apiKeyId: "k1" }));
    const held = new Map<string, string>();
    for (const [id, node] of [
      ["j1", "n1"],
      ["j2", "n1"],
      ["j3", "n1"],
      ["j4", "bad"],
      ["j5", "n1"],
    ] as const) {
      held.set(id, (await repo.leaseJob(id, lease(node, 5)))?.fence as string);
    }
    const credit = (jobId: string, nodeId = "n1") => ({
      entry: {
        jobId,
        nodeId,
        model: "m1",
        promptTokens: RESULT.promptTokens,
        completionTokens: RESULT.completionTokens,
        amountMicros: 40,
        at: 9,
      },
      apiKeyId: "k1",
    });
    const usage = async () => {
      const k = await repo.findApiKeyByHash("h1");
      return [k?.promptTokens, k?.completionTokens, k?.costMicros];
    };

    expect(await repo.completeAndCreditJob("j1", "stale", RESULT, 9, credit("j1"))).toBeNull();
    expect(await repo.getJob("j1")).toMatchObject({ status: "running", fence: held.get("j1") });
    expect(await repo.listLedger({})).toEqual([]);

    const done = await repo.completeAndCreditJob("j1", held.get("j1")!, RESULT, 9, credit("j1"));
    expect(done?.credit).toBe("credited");
    expect(done?.job).toMatchObject({ id: "j1", status: "completed", resultText: RESULT.text, completionTokens: 4, finishedAt: 9 });
    expect(await repo.getJob("j1")).toEqual(done!.job);
    expect((await repo.listAttempts("j1"))[0]).toMatchObject({ outcome: "completed", endedAt: 9 });
    expect(await repo.listLedger({})).toEqual([{ ...credit("j1").entry, ownerId: "alice" }]);
    expect(await usage()).toEqual([5, 4, 40]);
    // the same result again: completed already, nothing more
    expect(await repo.completeAndCreditJob("j1", held.get("j1")!, RESULT, 10, credit("j1"))).toBeNull();
    expect(await repo.listLedger({})).toHaveLength(1);

    // no credit asked for; a job already in the ledger; a quarantined worker: completed, not credited (again)
    expect(await repo.completeAndCreditJob("j2", held.get("j2")!, RESULT, 9, null)).toMatchObject({
      job: { status: "completed" },
      credit: null,
    });
    expect(await repo.creditJob({ ...credit("j3").entry, amountMicros: 1 }, null)).toBe("credited");
    expect((await repo.completeAndCreditJob("j3", held.get("j3")!, RESULT, 9, credit("j3")))?.credit).toBe("already_credited");
    await repo.recordTrust("bad", { matches: 0, mismatches: 20 }, { score: () => 0, threshold: 0.7 }, "cheater", 8);
    const quarantined = await repo.completeAndCreditJob("j4", held.get("j4")!, RESULT, 9, credit("j4", "bad"));
    expect(quarantined).toMatchObject({ job: { status: "completed" }, credit: "quarantined" });
    expect((await repo.listLedger({})).map((e) => [e.jobId, e.amountMicros])).toEqual([
      ["j3", 1],
      ["j1", 40],
    ]);
    expect(await usage()).toEqual([5, 4, 40]);

    // the ledger refuses the entry (no model): the job stays running, its attempt open, nothing credited
    const broken = { ...credit("j5"), entry: { ...credit("j5").entry, model: null as unknown as string } };
    await expect(repo.completeAndCreditJob("j5", held.get("j5")!, RESULT, 9, broken)).rejects.toThrow();
    expect(await repo.getJob("j5")).toMatchObject({ status: "running", fence: held.get("j5"), resultText: null });
    expect((await repo.listAttempts("j5"))[0]).toMatchObject({ outcome: "running", endedAt: null });
    expect(await repo.listLedger({ nodeId: "n1" })).toHaveLength(2);
    expect(await usage()).toEqual([5, 4, 40]);
  });

  test("prices: set inserts or replaces, get, list by model id; invalid rates are refused", async () => {
    const repo = ctx.repo();
    expect(await repo.getPrice("m1")).toBeNull();
    expect(await repo.listPrices()).toEqual([]);
    await repo.setPrice({ modelId: "zeta", completionMicrosPer1k: 2_000, promptMicrosPer1k: 0 });
    await repo.setPrice({ modelId: "alpha", completionMicrosPer1k: 1, promptMicrosPer1k: 3 });
    await repo.setPrice({ modelId: "zeta", completionMicrosPer1k: 9_007_199_254_740_991, promptMicrosPer1k: 500 });
    expect(await repo.getPrice("zeta")).toEqual({ modelId: "zeta", completionMicrosPer1k: 9_007_199_254_740_991, promptMicrosPer1k: 500 });
    expect(await repo.listPrices()).toEqual([
      { modelId: "alpha", completionMicrosPer1k: 1, promptMicrosPer1k: 3 },
      { modelId: "zeta", completionMicrosPer1k: 9_007_199_254_740_991, promptMicrosPer1k: 500 },
    ]);
    await expect(repo.setPrice({ modelId: "bad", completionMicrosPer1k: -1, promptMicrosPer1k: 0 })).rejects.toThrow(RangeError);
    await expect(repo.setPrice({ modelId: "bad", completionMicrosPer1k: 1, promptMicrosPer1k: 0.5 })).rejects.toThrow(/promptMicrosPer1k/);
    expect(await repo.getPrice("bad")).toBeNull();
  });

  test("ledgerTotals: all, by node, by owner, both, and [since, until); zeros when nothing matches", async () => {
    const repo = ctx.repo();
    expect(await repo.ledgerTotals({})).toEqual({ amountMicros: 0, jobs: 0, promptTokens: 0, completionTokens: 0 });
    await repo.creditLedger(entry("a", 100, { amountMicros: 1_000 }));
    await repo.creditLedger(entry("b", 200, { amountMicros: 2_000, promptTokens: 1, completionTokens: 2 }));
    await repo.creditLedger(entry("c", 300, { nodeId: "n2", amountMicros: 4_000 }));
    await repo.creditLedger(entry("d", 400, { nodeId: "n3", ownerId: null, amountMicros: 0 }));
    // Amounts beyond 32 bits add up exactly (Postgres sums bigint as numeric).
    await repo.creditLedger(entry("e", 500, { nodeId: "n2", ownerId: "o2", amountMicros: 5_000_000_000_000 }));

    expect(await repo.ledgerTotals({})).toEqual({ amountMicros: 5_000_000_007_000, jobs: 5, promptTokens: 41, completionTokens: 82 });
    expect(await repo.ledgerTotals({ nodeId: "n1" })).toEqual({ amountMicros: 3_000, jobs: 2, promptTokens: 11, completionTokens: 22 });
    expect((await repo.ledgerTotals({ ownerId: "o1" })).amountMicros).toBe(7_000);
    expect((await repo.ledgerTotals({ nodeId: "n2", ownerId: "o1" })).amountMicros).toBe(4_000);
    expect((await repo.ledgerTotals({ since: 200, until: 400 })).jobs).toBe(2);
    expect((await repo.ledgerTotals({ since: 200 })).amountMicros).toBe(5_000_000_006_000);
    expect((await repo.ledgerTotals({ until: 200 })).amountMicros).toBe(1_000);
    expect((await repo.ledgerTotals({ nodeId: "n3" })).jobs).toBe(1);
    expect(await repo.ledgerTotals({ nodeId: "nobody" })).toEqual({ amountMicros: 0, jobs: 0, promptTokens: 0, completionTokens: 0 });

    // every node's totals in one query: the same as asking per node
    const byNode = await repo.ledgerTotalsByNode();
    expect([...byNode.keys()].sort()).toEqual(["n1", "n2", "n3"]);
    for (const node of ["n1", "n2", "n3"]) expect(byNode.get(node)).toEqual(await repo.ledgerTotals({ nodeId: node }));
  });

  test("ledgerByDay: local calendar days east of UTC, ascending, empty days left out", async () => {
    const repo = ctx.repo();
    expect(await repo.ledgerByDay({}, 0)).toEqual([]);
    await repo.creditLedger(entry("sun-2330", SUN + 23 * HOUR + 30 * 60_000, { amountMicros: 1 }));
    await repo.creditLedger(entry("mon-0000", SUN + DAY, { amountMicros: 2 }));
    await repo.creditLedger(entry("mon-0059", SUN + DAY + 59 * 60_000, { amountMicros: 4 }));
    await repo.creditLedger(entry("wed-1200", SUN + 3 * DAY + 12 * HOUR, { amountMicros: 8, nodeId: "n2" }));
    await repo.creditLedger(entry("sun-0030", SUN + 30 * 60_000, { amountMicros: 16 }));

    expect(await repo.ledgerByDay({}, 0)).toEqual([
      { day: "2024-03-10", amountMicros: 17, jobs: 2 },
      { day: "2024-03-11", amountMicros: 6, jobs: 2 },
      { day: "2024-03-13", amountMicros: 8, jobs: 1 },
    ]);
    // UTC+1: 23:30 Sunday UTC is already Monday.
    expect(await repo.ledgerByDay({}, 60)).toEqual([
      { day: "2024-03-10", amountMicros: 16, jobs: 1 },
      { day: "2024-03-11", amountMicros: 7, jobs: 3 },
      { day: "2024-03-13", amountMicros: 8, jobs: 1 },
    ]);
    // UTC-5 (and UTC-00:31 below): midnight and 00:59 Monday UTC are still Sunday; 00:30 Sunday UTC is Saturday.
    expect(await repo.ledgerByDay({}, -300)).toEqual([
      { day: "2024-03-09", amountMicros: 16, jobs: 1 },
      { day: "2024-03-10", amountMicros: 7, jobs: 3 },
      { day: "2024-03-13", amountMicros: 8, jobs: 1 },
    ]);
    expect((await repo.ledgerByDay({}, -31)).map((d) => d.day)).toEqual(["2024-03-09", "2024-03-10", "2024-03-11", "2024-03-13"]);
    expect(await repo.ledgerByDay({ nodeId: "n2" }, 600)).toEqual([{ day: "2024-03-13", amountMicros: 8, jobs: 1 }]);
    expect(await repo.ledgerByDay({ since: SUN + DAY, until: SUN + 2 * DAY }, 0)).toEqual([
      { day: "2024-03-11", amountMicros: 6, jobs: 2 },
    ]);
    await expect(repo.ledgerByDay({}, 1.5)).rejects.toThrow(RangeError);
    await expect(repo.ledgerByDay({}, 1_441)).rejects.toThrow(RangeError);
  });

  test("ledgerByDay: days before 1970 and far ahead are floored, not truncated toward zero", async () => {
    const repo = ctx.repo();
    await repo.creditLedger(entry("before", -1, { amountMicros: 1 }));
    await repo.creditLedger(entry("epoch", 0, { amountMicros: 2 }));
    await repo.creditLedger(entry("far", Date.UTC(2999, 11, 31, 23, 59), { amountMicros: 4 }));
    expect(await repo.ledgerByDay({}, 0)).toEqual([
      { day: "1969-12-31", amountMicros: 1, jobs: 1 },
      { day: "1970-01-01", amountMicros: 2, jobs: 1 },
      { day: "2999-12-31", amountMicros: 4, jobs: 1 },
    ]);
    expect((await repo.ledgerByDay({}, -1)).map((d) => d.day)).toEqual(["1969-12-31", "2999-12-31"]);
  });

  test("listLedger: newest first, filtered, limited; entries round-trip", async () => {
    const repo = ctx.repo();
    expect(await repo.listLedger({})).toEqual([]);
    const [a, b, c, d] = [
      entry("a", 10),
      entry("b", 30, { nodeId: "n2", ownerId: null }),
      entry("c", 20, { amountMicros: 5_000_000_000_000 }),
      entry("d", 30),
    ];
    for (const r of [a, b, c, d]) await repo.creditLedger(r);
    expect(await repo.listLedger({})).toEqual([d, b, c, a]);
    expect((await repo.listLedger({ nodeId: "n1", limit: 2 })).map((e) => e.jobId)).toEqual(["d", "c"]);
    expect((await repo.listLedger({ ownerId: "o1", since: 15, until: 30 })).map((e) => e.jobId)).toEqual(["c"]);
    expect(await repo.listLedger({ limit: 0 })).toEqual([]);
  });
}

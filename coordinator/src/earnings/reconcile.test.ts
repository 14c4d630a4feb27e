// A job completed but never credited (the coordinator killed in between) is credited by the reconciler, once.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { openRepository } from "../db/open.ts";
import type { Repository } from "../db/repository.ts";
import { type FreshPostgres, freshPostgresUrl, freshSqlite, postgresTestsDisabled } from "../db/testing.ts";
import { creditCompletedJob } from "./ledger.ts";
import { reconcileCredits } from "./reconcile.ts";

setDefaultTimeout(60_000);
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function stores(): Promise<[string, Repository][]> {
  const out: [string, Repository][] = [["SQLite", freshSqlite()]];
  if (postgresTestsDisabled()) {
    console.log(`reconcile: Postgres part not run: ${postgresTestsDisabled()}`);
    return out;
  }
  const pg: FreshPostgres = await freshPostgresUrl();
  const repo = await openRepository(pg.url);
  cleanups.push(async () => {
    await repo.close();
    await pg.drop();
  });
  out.push(["Postgres", repo]);
  return out;
}

/** Runs one job to completion on `worker` at `now` without crediting it, as a crash after completeJob would leave it. */
async function completeUncredited(
  repo: Repository,
  id: string,
  worker: string,
  now: number,
  purpose: "client" | "audit" = "client",
): Promise<void> {
  await repo.enqueueJob({ id, apiKeyId: null, model: "m", request: {}, timeoutMs: 60_000, originInstance: null, now, purpose });
  const job = await repo.leaseNextJob({ workerId: worker, models: ["m"], now, leaseMs: 60_000, fence: `f-${id}` });
  expect(job?.id).toBe(id);
  expect(
    (await repo.completeJob(id, `f-${id}`, { text: "x", finishReason: "stop", promptTokens: 3, completionTokens: 5 }, now))?.status,
  ).toBe("completed");
}

describe("credit reconciliation", async () => {
  for (const [name, repo] of await stores()) {
    test(`${name}: a completed, uncredited client job is credited once; audits, quarantined workers and fresh jobs are left`, async () => {
      await repo.setPrice({ modelId: "m", completionMicrosPer1k: 1_000_000, promptMicrosPer1k: 0 });
      for (const w of ["w1", "w2"]) await repo.createWorker({ nodeId: w, clientId: null, name: null, ownerId: null }, 0);
      const t0 = 1_000_000;
      await completeUncredited(repo, "lost", "w1", t0);
      await completeUncredited(repo, "paid", "w1", t0);
      expect((await creditCompletedJob(repo, { id: "paid" }, "w1", t0)).credited).toBe(true);
      await completeUncredited(repo, "check", "w1", t0, "audit");
      await completeUncredited(repo, "fresh", "w1", t0 + 59_000);
      await completeUncredited(repo, "quarantined", "w2", t0);
      // quarantine w2: one mismatch under a policy whose threshold nothing passes
      expect(
        (await repo.recordTrust("w2", { matches: 0, mismatches: 1 }, { score: () => 0, threshold: 0.5 }, "test", t0))?.quarantined,
      ).toBe(true);

      expect(await reconcileCredits(repo, t0 + 60_000)).toBe(1);
      const ledger = await repo.listLedger({});
      expect(ledger.map((e) => e.jobId).sort()).toEqual(["lost", "paid"]);
      expect(ledger.find((e) => e.jobId === "lost")).toMatchObject({ nodeId: "w1", completionTokens: 5, amountMicros: 5_000 });
      // again, and later: nothing twice; the fresh job's turn comes once it has settled
      expect(await reconcileCredits(repo, t0 + 60_000)).toBe(0);
      expect(await reconcileCredits(repo, t0 + 120_000)).toBe(1);
      expect((await repo.listLedger({})).length).toBe(3);
    });

    test(`${name}: the live path leaves only a job completed without its credit to the reconciler`, async () => {
      await repo.setPrice({ modelId: "m", completionMicrosPer1k: 1_000_000, promptMicrosPer1k: 0 });
      await repo.createWorker({ nodeId: "w3", clientId: null, name: null, ownerId: null }, 0);
      const t0 = 5_000_000;
      const result = { text: "x", finishReason: "stop", promptTokens: 3, completionTokens: 5 };
      for (const id of ["with-credit", "price-unread"]) {
        await repo.enqueueJob({ id, apiKeyId: null, model: "m", request: {}, timeoutMs: 60_000, originInstance: null, now: t0 });
        expect((await repo.leaseNextJob({ workerId: "w3", models: ["m"], now: t0, leaseMs: 60_000, fence: `f-${id}` }))?.id).toBe(id);
      }
      const entry = { jobId: "with-credit", nodeId: "w3", model: "m", promptTokens: 3, completionTokens: 5, amountMicros: 5_000, at: t0 };
      expect((await repo.completeAndCreditJob("with-credit", "f-with-credit", result, t0, { entry, apiKeyId: null }))?.credit).toBe(
        "credited",
      );
      // the session could not work the credit out (its price unreadable): completed without it
      expect((await repo.completeAndCreditJob("price-unread", "f-price-unread", result, t0, null))?.credit).toBeNull();
      expect(await repo.uncreditedJobs({ since: t0 - 1, until: t0 + 1, limit: 10 })).toEqual([{ id: "price-unread", workerId: "w3" }]);
      expect(await reconcileCredits(repo, t0 + 60_000)).toBe(1);
      expect(await repo.uncreditedJobs({ since: t0 - 1, until: t0 + 1, limit: 10 })).toEqual([]);
      const mine = (await repo.listLedger({})).filter((e) => e.nodeId === "w3").map((e) => e.jobId);
      expect(mine.sort()).toEqual(["price-unread", "with-credit"]);
    });
  }
});

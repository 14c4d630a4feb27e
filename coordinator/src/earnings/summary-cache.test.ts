// EarningsCache: the same numbers as earningsSummary, without ledger queries between credits and local midnights.
import { describe, expect, test } from "bun:test";
import type { LedgerEntry, Repository } from "../db/repository.ts";
import { freshSqlite } from "../db/testing.ts";
import { earningsSummary } from "./ledger.ts";
import { formatAmount as fmt } from "./pricing.ts";
import { EarningsCache } from "./summary-cache.ts";

const at = (iso: string) => Date.parse(iso);

function entry(jobId: string, when: number, amountMicros: number, nodeId = "n1"): LedgerEntry {
  return { jobId, nodeId, ownerId: "o1", model: "m", promptTokens: 1, completionTokens: 1, amountMicros, at: when };
}

/** A repository that counts ledgerTotals calls (and can hold them back until `release`). */
function counting(repo: Repository): { repo: Repository; calls: () => number; hold(): () => void } {
  let calls = 0;
  let gate: Promise<void> | null = null;
  const wrapped = Object.create(repo) as Repository;
  wrapped.ledgerTotals = async (f) => {
    calls++;
    if (gate) await gate;
    return repo.ledgerTotals(f);
  };
  return {
    repo: wrapped,
    calls: () => calls,
    hold() {
      const { promise, resolve } = Promise.withResolvers<void>();
      gate = promise;
      return () => {
        gate = null;
        resolve();
      };
    },
  };
}

/** Credits like the gateway does: the ledger row, then the cache. */
async function credit(repo: Repository, cache: EarningsCache, e: LedgerEntry): Promise<void> {
  expect(await repo.creditLedger(e)).toBe(true);
  cache.credited(e.nodeId, e.amountMicros, e.at);
}

async function withRepo(fn: (repo: Repository) => Promise<void>): Promise<void> {
  const repo = freshSqlite();
  try {
    await fn(repo);
  } finally {
    await repo.close();
  }
}

describe("EarningsCache", () => {
  test("reads the ledger once, then adds this process's credits: equal to earningsSummary after each", () =>
    withRepo(async (base) => {
      const { repo, calls } = counting(base);
      const cache = new EarningsCache(repo);
      const now = at("2024-03-13T10:00:00Z"); // a Wednesday
      await base.creditLedger(entry("old-month", at("2024-02-20T10:00:00Z"), 5_000_000));
      await base.creditLedger(entry("this-week", at("2024-03-11T10:00:00Z"), 250_000));
      const first = await cache.summary("n1", 0, now);
      expect(first).toEqual(await earningsSummary(base, { nodeId: "n1" }, 0, now));
      expect(first).toMatchObject({ today: fmt(0), week: fmt(250_000), month: fmt(250_000), total: fmt(5_250_000) });
      const afterFirst = calls();
      expect(afterFirst).toBe(4);

      await credit(base, cache, entry("j1", now + 1000, 1_500_000));
      await credit(base, cache, entry("j2", now + 2000, 10)); // less than a cent still adds up
      const later = now + 60_000;
      const cached = await cache.summary("n1", 0, later);
      expect(cached).toEqual(await earningsSummary(base, { nodeId: "n1" }, 0, later));
      expect(cached).toMatchObject({ today: fmt(1_500_010), week: fmt(1_750_010), total: fmt(6_750_010) });
      expect(calls()).toBe(afterFirst); // no ledger query for the cached answers
      // the heartbeat path: the same answer as JSON text, straight from memory
      expect(JSON.parse(cache.cachedJson("n1", 0, later) as string)).toEqual(cached);
      expect(cache.cachedJson("n1", 60, later)).toBeUndefined(); // another time zone: summary() must read
      expect(cache.cachedJson("n2", 0, later)).toBeUndefined();
      expect(calls()).toBe(afterFirst);
    }));

  test("at the node's local midnight the day (and a new week or month) starts again", () =>
    withRepo(async (base) => {
      const { repo, calls } = counting(base);
      const cache = new EarningsCache(repo);
      const tz = 120; // UTC+2: Sunday 31 March 2024 ends at 21:59:59.999 UTC
      const evening = at("2024-03-31T21:30:00Z");
      await credit(base, cache, entry("sun", evening - 60_000, 700_000));
      expect(await cache.summary("n1", tz, evening)).toMatchObject({
        today: fmt(700_000),
        week: fmt(700_000),
        month: fmt(700_000),
        total: fmt(700_000),
      });
      await credit(base, cache, entry("late", evening + 60_000, 300_000));
      expect(await cache.summary("n1", tz, at("2024-03-31T21:59:59Z"))).toMatchObject({ today: fmt(1_000_000), week: fmt(1_000_000) });
      const n = calls();
      // 00:00:01 on Monday 1 April, local: a new day, week and month
      const monday = at("2024-03-31T22:00:01Z");
      const next = await cache.summary("n1", tz, monday);
      expect(calls()).toBe(n + 4);
      expect(next).toEqual(await earningsSummary(base, { nodeId: "n1" }, tz, monday));
      expect(next).toMatchObject({ today: fmt(0), week: fmt(0), month: fmt(0), total: fmt(1_000_000) });
    }));

  test("another time zone, another node, or an old entry: read again, never mixed up", () =>
    withRepo(async (base) => {
      const cache = new EarningsCache(base);
      const now = at("2024-03-13T01:00:00Z");
      await credit(base, cache, entry("a", at("2024-03-12T23:30:00Z"), 1_000_000));
      await credit(base, cache, entry("b", at("2024-03-13T00:30:00Z"), 2_000_000, "n2"));
      expect((await cache.summary("n1", 0, now)).today).toBe(fmt(0));
      // the same node in UTC+2: 23:30 UTC yesterday is already today there
      expect((await cache.summary("n1", 120, now)).today).toBe(fmt(1_000_000));
      expect((await cache.summary("n2", 0, now)).today).toBe(fmt(2_000_000));
      // a credit dated before the cached day: the ledger decides where it falls
      await credit(base, cache, entry("c", at("2024-03-01T12:00:00Z"), 400_000));
      expect(await cache.summary("n1", 120, now)).toEqual(await earningsSummary(base, { nodeId: "n1" }, 120, now));
    }));

  test("a credit while the ledger is being read: that read is not kept", () =>
    withRepo(async (base) => {
      const { repo, calls, hold } = counting(base);
      const cache = new EarningsCache(repo);
      const now = at("2024-03-13T10:00:00Z");
      const release = hold();
      const reading = cache.summary("n1", 0, now);
      await credit(base, cache, entry("j1", now, 900_000));
      release();
      await reading; // may or may not include j1
      const n = calls();
      expect((await cache.summary("n1", 0, now + 1)).today).toBe(fmt(900_000));
      expect(calls()).toBe(n + 4); // read again rather than trusting the racing read
      expect((await cache.summary("n1", 0, now + 2)).today).toBe(fmt(900_000));
      expect(calls()).toBe(n + 4);
    }));

  test("read again after maxAgeMs (credits made by another instance show up) and after forget", () =>
    withRepo(async (base) => {
      const { repo, calls } = counting(base);
      const cache = new EarningsCache(repo, 60_000);
      const now = at("2024-03-13T10:00:00Z");
      expect((await cache.summary("n1", 0, now)).today).toBe(fmt(0));
      await base.creditLedger(entry("elsewhere", now + 1, 3_000_000)); // not through this cache
      expect((await cache.summary("n1", 0, now + 59_000)).today).toBe(fmt(0));
      expect((await cache.summary("n1", 0, now + 60_000)).today).toBe(fmt(3_000_000));
      cache.forget("n1");
      expect(cache.size).toBe(0);
      const n = calls();
      await cache.summary("n1", 0, now + 61_000);
      expect(calls()).toBe(n + 4);
    }));
});

// earningsSummary: today / week (from Monday) / month / total in the contributor's time zone.
import { describe, expect, test } from "bun:test";
import { Earnings } from "@gogrid/protocol";
import { Value } from "@sinclair/typebox/value";
import type { LedgerEntry, Repository } from "../db/repository.ts";
import { freshSqlite } from "../db/testing.ts";
import { earningsSummary, periodStarts } from "./ledger.ts";

const at = (iso: string) => Date.parse(iso);

function entry(jobId: string, when: string, amountMicros: number, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { jobId, nodeId: "n1", ownerId: "o1", model: "m", promptTokens: 1, completionTokens: 1, amountMicros, at: at(when), ...extra };
}

async function withRepo(fn: (repo: Repository) => Promise<void>): Promise<void> {
  const repo = freshSqlite();
  try {
    await fn(repo);
  } finally {
    await repo.close();
  }
}

describe("periodStarts", () => {
  test("UTC+1 on a Monday morning: the day and week began at 23:00 UTC on Sunday", () => {
    expect(periodStarts(at("2024-03-11T09:00:00Z"), 60)).toEqual({
      today: at("2024-03-10T23:00:00Z"),
      week: at("2024-03-10T23:00:00Z"),
      month: at("2024-02-29T23:00:00Z"),
    });
  });

  test("a Sunday belongs to the week that began the Monday before", () => {
    expect(periodStarts(at("2024-03-10T12:00:00Z"), 0).week).toBe(at("2024-03-04T00:00:00Z"));
    expect(periodStarts(at("2024-03-10T23:59:59.999Z"), 0).week).toBe(at("2024-03-04T00:00:00Z"));
    expect(periodStarts(at("2024-03-11T00:00:00Z"), 0).week).toBe(at("2024-03-11T00:00:00Z"));
  });

  test("west of UTC: 03:00 UTC Monday is still Sunday evening in UTC-5", () => {
    expect(periodStarts(at("2024-03-11T03:00:00Z"), -300)).toEqual({
      today: at("2024-03-10T05:00:00Z"),
      week: at("2024-03-04T05:00:00Z"),
      month: at("2024-03-01T05:00:00Z"),
    });
  });

  test("a week can begin in the previous month (and year)", () => {
    expect(periodStarts(at("2024-05-01T12:00:00Z"), 0)).toEqual({
      today: at("2024-05-01T00:00:00Z"),
      week: at("2024-04-29T00:00:00Z"),
      month: at("2024-05-01T00:00:00Z"),
    });
    expect(periodStarts(at("2025-01-01T00:30:00Z"), 330).week).toBe(at("2024-12-29T18:30:00Z"));
  });

  test("refuses offsets that are not whole minutes within a day", () => {
    expect(() => periodStarts(0, 0.5)).toThrow(RangeError);
    expect(() => periodStarts(0, -1_441)).toThrow(RangeError);
  });
});

describe("earningsSummary", () => {
  test("23:30 UTC counts as today for UTC+1 the next day; periods, node filter, protocol shape", async () => {
    await withRepo(async (repo) => {
      await repo.creditLedger(entry("mon-0030-local", "2024-03-10T23:30:00Z", 1_000_000)); // Mon 00:30 local
      await repo.creditLedger(entry("sun-2359-local", "2024-03-10T22:59:59Z", 200_000)); // Sun 23:59 local
      await repo.creditLedger(entry("mar-01-local", "2024-02-29T23:30:00Z", 30_000)); // Fri 1 Mar 00:30 local
      await repo.creditLedger(entry("feb-29-local", "2024-02-29T22:30:00Z", 4_000)); // Thu 29 Feb 23:30 local
      await repo.creditLedger(entry("other-node", "2024-03-11T08:00:00Z", 7, { nodeId: "n2", ownerId: "o2" }));

      const now = at("2024-03-11T09:00:00Z");
      const mine = await earningsSummary(repo, { nodeId: "n1" }, 60, now);
      expect(mine).toEqual({ today: "1", week: "1", month: "1.23", total: "1.234", currency: "USD" });
      expect(Value.Check(Earnings, mine)).toBe(true);

      // The same credits seen from UTC: the 23:30 one is Sunday's, so not today nor this week.
      expect(await earningsSummary(repo, { nodeId: "n1" }, 0, now)).toEqual({
        today: "0",
        week: "0",
        month: "1.2",
        total: "1.234",
        currency: "USD",
      });
      expect(await earningsSummary(repo, { ownerId: "o2" }, 60, now)).toEqual({
        today: "0.000007",
        week: "0.000007",
        month: "0.000007",
        total: "0.000007",
        currency: "USD",
      });
      expect((await earningsSummary(repo, {}, 60, now)).total).toBe("1.234007");
    });
  });

  test("a week that began last month counts more than the month; nothing credited gives zeros", async () => {
    await withRepo(async (repo) => {
      expect(await earningsSummary(repo, { nodeId: "n1" }, 0, at("2024-05-01T12:00:00Z"))).toEqual({
        today: "0",
        week: "0",
        month: "0",
        total: "0",
        currency: "USD",
      });
      await repo.creditLedger(entry("monday", "2024-04-29T08:00:00Z", 2_500_000));
      await repo.creditLedger(entry("today", "2024-05-01T11:00:00Z", 500_000));
      expect(await earningsSummary(repo, { nodeId: "n1" }, 0, at("2024-05-01T12:00:00Z"))).toEqual({
        today: "0.5",
        week: "3",
        month: "0.5",
        total: "3",
        currency: "USD",
      });
    });
  });
});

// Each node's earnings summary kept in memory, so a heartbeat_ack costs no ledger queries.
//
// The sums are read from the ledger once, then this process adds its own credits to them
// (`credited`); they are read again when the node's local day changes (every period starts at a
// local midnight), when its time zone changes, and at the latest after `maxAgeMs` (a credit made
// by another instance, e.g. the retry of a session the node has left, shows up by then).
import type { Earnings } from "@gogrid/protocol";
import type { Repository } from "../db/repository.ts";
import { type EarningsMicros, earningsMicros, formatEarnings, periodStarts } from "./ledger.ts";

const DAY = 86_400_000;

interface Entry {
  tz: number;
  sums: EarningsMicros;
  formatted: Earnings;
  /** `formatted` as JSON, so a heartbeat_ack is one string template (see cachedJson). */
  json: string;
  /** Local midnight that began the cached day, and the next one: outside them, read again. */
  dayStart: number;
  dayEnd: number;
  readAt: number;
}

export class EarningsCache {
  private readonly entries = new Map<string, Entry>();
  /** The value of `clock` at each node's latest credit: a read that began before it is not kept. */
  private readonly creditedAt = new Map<string, number>();
  private clock = 0;

  constructor(
    private readonly repo: Repository,
    private readonly maxAgeMs = 10 * 60_000,
  ) {}

  /** The cached entry when it still answers for `now` in that time zone. */
  private fresh(nodeId: string, tzOffsetMinutes: number, now: number): Entry | undefined {
    const e = this.entries.get(nodeId);
    return e && e.tz === tzOffsetMinutes && now >= e.dayStart && now < e.dayEnd && now - e.readAt < this.maxAgeMs ? e : undefined;
  }

  /**
   * The node's earnings as JSON text when the cache answers without reading the ledger, else
   * undefined (then call summary()). The gateway's heartbeat_ack path: no await, no stringify.
   */
  cachedJson(nodeId: string, tzOffsetMinutes: number, now: number): string | undefined {
    return this.fresh(nodeId, tzOffsetMinutes, now)?.json;
  }

  /** The node's earnings in its time zone (`tzOffsetMinutes` east of UTC), as earningsSummary gives them. */
  async summary(nodeId: string, tzOffsetMinutes: number, now: number): Promise<Earnings> {
    const e = this.fresh(nodeId, tzOffsetMinutes, now);
    if (e) return e.formatted;
    const began = this.clock;
    const sums = await earningsMicros(this.repo, { nodeId }, tzOffsetMinutes, now);
    const formatted = formatEarnings(sums);
    // a credit while the queries ran may or may not be in their sums: keep nothing, read again next time
    if ((this.creditedAt.get(nodeId) ?? 0) <= began) {
      const dayStart = periodStarts(now, tzOffsetMinutes).today;
      const json = JSON.stringify(formatted);
      this.entries.set(nodeId, { tz: tzOffsetMinutes, sums, formatted, json, dayStart, dayEnd: dayStart + DAY, readAt: now });
    }
    return formatted;
  }

  /** This process wrote a ledger entry of `amountMicros` for the node, dated `at`. */
  credited(nodeId: string, amountMicros: number, at: number): void {
    this.creditedAt.set(nodeId, ++this.clock);
    const e = this.entries.get(nodeId);
    if (!e) return;
    if (at < e.dayStart) {
      // dated before the cached day (not from this process's clock): which periods it falls in is the ledger's to say
      this.entries.delete(nodeId);
      return;
    }
    // every period runs from its start to the present and beyond, and today's start is the latest one
    const s = e.sums;
    e.sums = { today: s.today + amountMicros, week: s.week + amountMicros, month: s.month + amountMicros, total: s.total + amountMicros };
    e.formatted = formatEarnings(e.sums);
    e.json = JSON.stringify(e.formatted);
  }

  /** The node left this instance: drop its entry. */
  forget(nodeId: string): void {
    this.entries.delete(nodeId);
    // a read in flight must still see a credit made before this; the map holds one number per node ever credited here
  }

  get size(): number {
    return this.entries.size;
  }
}

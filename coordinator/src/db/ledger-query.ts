// Ledger query pieces both dialects share: the filter's WHERE, the local-day expression, totals mapping.
import { type AnyColumn, and, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import type { LedgerFilter, LedgerTotals, PriceRow } from "./repository.ts";

const DAY_MS = 86_400_000;

/** The earnings_ledger columns a filter reads (the same names in schema-sqlite.ts and schema-pg.ts). */
export interface LedgerColumns {
  nodeId: AnyColumn;
  ownerId: AnyColumn;
  at: AnyColumn;
}

/** nodeId and ownerId (when given) must both match; `at` in [since, until). */
export function ledgerWhere(t: LedgerColumns, filter: LedgerFilter): SQL | undefined {
  return and(
    filter.nodeId !== undefined ? eq(t.nodeId, filter.nodeId) : undefined,
    filter.ownerId !== undefined ? eq(t.ownerId, filter.ownerId) : undefined,
    filter.since !== undefined ? gte(t.at, filter.since) : undefined,
    filter.until !== undefined ? lt(t.at, filter.until) : undefined,
  );
}

/** Offsets of real time zones lie within ±14 h; a day either way is the hard bound. */
export function checkTzOffset(tzOffsetMinutes: number): number {
  if (!Number.isInteger(tzOffsetMinutes) || Math.abs(tzOffsetMinutes) > 1_440)
    throw new RangeError(`tzOffsetMinutes must be a whole number of minutes within ±1440, got ${tzOffsetMinutes}`);
  return tzOffsetMinutes;
}

/**
 * floor((at + offset) / 1 day) in integer arithmetic, valid in SQLite and Postgres alike (both
 * truncate integer division toward zero, so negative values are shifted first). The offset is a
 * checked integer inlined as a literal: the SELECT and GROUP BY expressions are then the same text.
 */
export function localDayExpr(at: AnyColumn, tzOffsetMinutes: number): SQL<number> {
  const shifted = sql`(${at} + ${sql.raw(String(checkTzOffset(tzOffsetMinutes) * 60_000))})`;
  return sql<number>`(case when ${shifted} >= 0 then ${shifted} / ${sql.raw(String(DAY_MS))} else (${shifted} - ${sql.raw(String(DAY_MS - 1))}) / ${sql.raw(String(DAY_MS))} end)`.mapWith(
    Number,
  );
}

/** Day number since 1970-01-01 → "YYYY-MM-DD". */
export function dayString(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Aggregate columns of ledgerTotals; Postgres returns bigint/numeric sums as strings, hence Number. */
export function totalsSelect(t: LedgerColumns & { amountMicros: AnyColumn; promptTokens: AnyColumn; completionTokens: AnyColumn }) {
  return {
    amountMicros: sql<number>`coalesce(sum(${t.amountMicros}), 0)`.mapWith(Number),
    jobs: sql<number>`count(*)`.mapWith(Number),
    promptTokens: sql<number>`coalesce(sum(${t.promptTokens}), 0)`.mapWith(Number),
    completionTokens: sql<number>`coalesce(sum(${t.completionTokens}), 0)`.mapWith(Number),
  };
}

export function toTotals(row: LedgerTotals | undefined): LedgerTotals {
  return row
    ? { amountMicros: row.amountMicros, jobs: row.jobs, promptTokens: row.promptTokens, completionTokens: row.completionTokens }
    : { amountMicros: 0, jobs: 0, promptTokens: 0, completionTokens: 0 };
}

/** Prices are whole, non-negative micro-units (the database would store anything). */
export function checkPrice(row: PriceRow): PriceRow {
  for (const [name, v] of [
    ["completionMicrosPer1k", row.completionMicrosPer1k],
    ["promptMicrosPer1k", row.promptMicrosPer1k],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`price of ${row.modelId}: ${name} must be a non-negative whole number of micro-units, got ${v}`);
  }
  return { modelId: row.modelId, completionMicrosPer1k: row.completionMicrosPer1k, promptMicrosPer1k: row.promptMicrosPer1k };
}

// What gogrid-admin's commands share to parse options and print: tables, times, integer options.
import { InvalidArgumentError } from "commander";

export type Out = (line: string) => void;

/** Rows as aligned columns under upper-case headers; "(none)" for no rows, "-" for null cells. */
export function table(rows: Record<string, unknown>[], out: Out): void {
  if (rows.length === 0) {
    out("(none)");
    return;
  }
  const cols = Object.keys(rows[0] as object);
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  out(cols.map((c, i) => c.toUpperCase().padEnd(widths[i] as number)).join("  "));
  for (const r of rows) out(cols.map((c, i) => cell(r[c]).padEnd(widths[i] as number)).join("  "));
}

/** Epoch ms as ISO 8601 to the second; null stays null. */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z"));

/** A commander option parser for integers ≥ 1. */
export function positiveInt(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}".`);
    return Number(v);
  };
}

// Shared output of the bench parts: figures rounded, percentiles, a plain text table, the last JSON line.
import { cpus, loadavg } from "node:os";

export function round(v: number | null | undefined, digits = 2): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(digits));
}

/** The q-th percentile (0–100) of `values`, nearest rank; null for none. */
export function percentile(values: ArrayLike<number>, q: number): number | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1));
  return s[rank] as number;
}

export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b <= 0 ? null : a / b;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(Math.abs(v) >= 10 ? 1 : 3);
  return String(v);
}

/** A plain text table: a header line, a rule, one line per row. */
export function table(head: string[], rows: unknown[][]): string {
  const text = rows.map((r) => r.map(cell));
  const widths = head.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...text.map(line)].join("\n");
}

/** "met" / "NOT met" / "not judged" for a goal. */
export function verdict(met: boolean | null): string {
  return met === null ? "not judged" : met ? "met" : "NOT met";
}

/** The machine for a report's header: "N cores, [extra, ]load 1m 5m 15m". */
export function machine(extra?: string): string {
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  return `${cpus().length} cores, ${extra ? `${extra}, ` : ""}load ${load}`;
}

/** Progress on stderr, so stdout stays the table plus the last JSON line. */
export function progress(part: string): (line: string) => void {
  return (line) => process.stderr.write(`[bench:${part}] ${line}\n`);
}

/** Prints the human text, then the figures as the LAST stdout line. */
export function finish(human: string, json: unknown): void {
  process.stdout.write(`${human}\n${JSON.stringify(json)}\n`);
}

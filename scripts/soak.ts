// `bun run soak [--quick] [--postgres] [--only a,b]`: runs every soak part (faults, security, scale),
// prints a table, then as the last stdout line one JSON object with the summed totals and each part.
import { parseArgs } from "node:util";
import { addTotals, ZERO } from "./soak/checker.ts";
import type { PartOptions, PartResult, SoakPart, SoakTotals } from "./soak/part.ts";
import { PARTS } from "./soak/parts.ts";

export interface SoakReport extends SoakTotals {
  pass: boolean;
  quick: boolean;
  postgres: boolean;
  seconds: number;
  parts: Record<string, PartResult>;
}

/** The parts named in `only` (all when empty); an unknown name is an error naming the known ones. */
export function selectParts(only: string[], parts: SoakPart[] = PARTS): SoakPart[] {
  if (only.length === 0) return parts;
  const unknown = only.filter((n) => !parts.some((p) => p.name === n));
  if (unknown.length > 0) throw new Error(`unknown soak part(s): ${unknown.join(", ")} (known: ${parts.map((p) => p.name).join(", ")})`);
  return parts.filter((p) => only.includes(p.name));
}

/** Runs the parts one after the other; a part that throws is a failed part, not the end of the run. */
export async function runSoak(parts: SoakPart[], opts: PartOptions): Promise<SoakReport> {
  const t0 = performance.now();
  const results: Record<string, PartResult> = {};
  let totals = ZERO;
  for (const part of parts) {
    opts.log(`soak: ${part.name}: ${part.describe}`);
    const started = performance.now();
    let r: PartResult;
    try {
      r = await part.run(opts);
    } catch (e) {
      r = { part: part.name, pass: false, figures: {}, failures: [`${part.name} threw: ${(e as Error).stack ?? e}`] };
    }
    r.figures.seconds ??= Math.round((performance.now() - started) / 100) / 10;
    results[part.name] = r;
    if (r.totals) totals = addTotals(totals, r.totals);
    opts.log(`soak: ${part.name}: ${r.pass ? "pass" : `FAIL\n  ${r.failures.join("\n  ")}`}`);
  }
  return {
    ...totals,
    pass: Object.values(results).every((r) => r.pass),
    quick: opts.quick,
    postgres: opts.postgres,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    parts: results,
  };
}

/** The human table: one row per part. */
export function table(report: SoakReport): string {
  const cols = ["part", "pass", "accepted", "completed", "failed_vis", "lost", "dup", "dbl_credit", "seconds", "figures"];
  const rows = Object.values(report.parts).map((r) => {
    const t = r.totals;
    const extra = Object.entries(r.figures)
      .filter(([k]) => k !== "seconds")
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    return [
      r.part,
      r.pass ? "yes" : "NO",
      t?.accepted ?? "-",
      t?.completed ?? "-",
      t?.failed_visibly ?? "-",
      t?.lost ?? "-",
      t?.duplicated ?? "-",
      t?.double_credited ?? "-",
      r.figures.seconds ?? "-",
      extra,
    ].map(String);
  });
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => (i === cols.length - 1 ? 0 : (r[i] as string).length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join("  ");
  const total = [
    "total",
    report.pass ? "yes" : "NO",
    report.accepted,
    report.completed,
    report.failed_visibly,
    report.lost,
    report.duplicated,
    report.double_credited,
    report.seconds,
    "",
  ].map(String);
  return [line(cols), ...rows.map(line), line(total)].join("\n");
}

const USAGE = `usage: bun run soak [--quick] [--postgres] [--only a,b]
  --quick     the short version CI runs
  --postgres  parts with a store run on a fresh Postgres database (default SQLite); kill-coordinator
              always runs on Postgres, pg-restart on a private cluster
  --only      run only these parts
parts: ${PARTS.map((p) => p.name).join(", ")}
Prints a table (stdout), progress (stderr), then one JSON line; exits 1 when any part fails.`;

if (import.meta.main) {
  let values: { quick?: boolean; postgres?: boolean; only?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: "boolean" },
        postgres: { type: "boolean" },
        only: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`soak: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  let parts: SoakPart[];
  try {
    parts = selectParts((values.only ?? "").split(",").filter(Boolean));
  } catch (e) {
    console.error(`soak: ${(e as Error).message}`);
    process.exit(2);
  }
  const report = await runSoak(parts, {
    quick: !!values.quick,
    postgres: !!values.postgres,
    log: (line) => process.stderr.write(`[${(performance.now() / 1000).toFixed(1)}s] ${line}\n`),
  });
  console.log(table(report));
  console.log(JSON.stringify(report));
  process.exit(report.pass ? 0 : 1);
}

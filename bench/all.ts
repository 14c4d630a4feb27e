// `bun run bench [--quick] [--parts a,b]`: every bench part in its own child process, one summary table, one JSON line.
//
// Each part's own table is printed as it finishes; then a summary of the headline figures; the LAST
// stdout line is one JSON object {"<part>": <that part's last JSON line>, ...} (null and an entry
// in "errors" for a part that failed).
import { join } from "node:path";
import { parseFlags } from "./flags.ts";
import { machine, progress, table } from "./report.ts";

const ROOT = join(import.meta.dir, "..");
export const PARTS = ["engine", "batch", "coordinator", "connections", "relay", "idle", "sizes"] as const;
export type PartName = (typeof PARTS)[number];

function script(part: PartName): string {
  return part === "engine" ? join(ROOT, "native", "bench", "engine.ts") : join(ROOT, "bench", `${part}.ts`);
}

type Json = Record<string, unknown>;
const n = (v: unknown) => (typeof v === "number" ? v : null);

/** The headline rows of one part's JSON for the summary table: [part, case, figure, value]. */
export function headlines(part: PartName, j: unknown): unknown[][] {
  const rows = Array.isArray(j) ? (j as Json[]) : [j as Json];
  switch (part) {
    case "engine":
      return rows.flatMap((r) => [
        [part, r.model, "decode tok/s", n(r.gogrid_tps)],
        [part, r.model, "× C loop", n(r.ratio_vs_c_loop)],
        [part, r.model, "× node-llama-cpp", n(r.ratio_vs_node_llama_cpp)],
      ]);
    case "batch":
      return rows.flatMap((r) => [
        [part, `${r.sequences} jobs`, "aggregate tok/s", n(r.gogrid_tps)],
        [part, `${r.sequences} jobs`, "× 1 job (C loop × 1 job)", `${r.gogrid_ratio_vs_1} (${r.c_loop_ratio_vs_1})`],
        [part, `${r.sequences} jobs`, "outputs = alone", r.outputs_equal],
      ]);
    case "coordinator":
      return rows.map((r) => [
        part,
        `${r.store} ${r.mode}${r.mode === "rate" ? ` ${r.offered_rate}/s` : ""}`,
        "jobs/s, p50/p99 ms",
        `${r.jobs_per_s}, ${r.p50_ms}/${r.p99_ms}`,
      ]);
    case "connections":
      return rows.flatMap((r) => [
        [part, `${r.workers_connected}/${r.workers_asked} workers`, "RSS MB / 1000", n(r.rss_mb_per_1000)],
        [part, `${r.workers_connected}/${r.workers_asked} workers`, "CPU % / 1000", n(r.cpu_pct_per_1000)],
      ]);
    case "relay":
      return rows.map((r) => [part, `${r.streams} streams`, "tokens/s", n(r.tokens_per_s)]);
    case "idle":
      return rows.flatMap((r) => [
        [part, "worker, no job, first minute", "CPU %", n(r.warmup_cpu_pct)],
        [part, "worker, no job", "CPU %", n(r.worker_cpu_pct)],
        [part, "worker, no job", "RSS MB", n(r.worker_rss_max_mb)],
      ]);
    case "sizes":
      return rows.flatMap((r) => [
        [part, "dist/bin", "MiB", n(r.binaries_total_mib)],
        [part, "dist/installers", "MiB", n(r.installers_total_mib)],
      ]);
  }
}

/** Runs one part; its stderr streams through, its stdout is kept. Returns its human text and last JSON line. */
export async function runPart(part: PartName, args: string[]): Promise<{ human: string; json: unknown; error: string | null }> {
  const proc = Bun.spawn(["bun", script(part), ...args], { cwd: ROOT, stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  const code = await proc.exited;
  const lines = out.trimEnd().split("\n");
  const last = lines.pop() ?? "";
  try {
    const json = JSON.parse(last) as unknown;
    return { human: lines.join("\n"), json, error: code === 0 ? null : `exit code ${code}` };
  } catch {
    return { human: out, json: null, error: `exit code ${code}; its last line is not JSON: ${last.slice(0, 200)}` };
  }
}

if (import.meta.main) {
  const FLAGS = {
    quick: { type: "boolean", default: false, description: "the short version of every part (a smoke run)" },
    parts: { type: "string", default: PARTS.join(","), description: `parts to run: ${PARTS.join(", ")}` },
  } as const;
  const f = parseFlags("bench", FLAGS, Bun.argv.slice(2));
  const parts = f.list("parts", PARTS) as PartName[];
  const log = progress("all");
  const result: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const rows: unknown[][] = [];
  for (const part of parts) {
    log(`${part}${f.bool("quick") ? " --quick" : ""}`);
    const t0 = performance.now();
    const r = await runPart(part, f.bool("quick") ? ["--quick"] : []);
    process.stdout.write(`\n=== ${part} (${((performance.now() - t0) / 1000).toFixed(0)} s) ===\n${r.human}\n`);
    result[part] = r.json;
    if (r.error) errors[part] = r.error;
    if (r.json !== null) rows.push(...headlines(part, r.json));
    else rows.push([part, "failed", "", r.error]);
  }
  const head = `bench — ${machine()}${f.bool("quick") ? " (quick: smoke figures, not measurements)" : ""}`;
  process.stdout.write(`\n${head}\n\n${table(["part", "case", "figure", "value"], rows)}\n`);
  process.stdout.write(`${JSON.stringify({ ...result, ...(Object.keys(errors).length ? { errors } : {}) })}\n`);
  process.exit(Object.keys(errors).length ? 1 : 0);
}

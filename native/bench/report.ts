// Medians, ratios and goals of one model's runs; the human table and the JSON object of the output contract.
import { ratio, round } from "../../bench/report.ts";
import type { BenchModel } from "./models.ts";
import type { RunFigures } from "./runner.ts";

export type EngineKey = "gogrid" | "c_loop" | "c_loop_threadpool" | "node_llama_cpp";
export const ENGINE_LABELS: Record<EngineKey, string> = {
  gogrid: "gogrid",
  c_loop: "C loop",
  c_loop_threadpool: "C loop + threadpool",
  node_llama_cpp: "node-llama-cpp",
};

/** The runs of one engine on one model, or why it has none. */
export interface EngineRuns {
  runs: RunFigures[];
  error: string | null;
  /** Timed runs thrown away and run again because other processes took CPU meanwhile. */
  retried: number;
  /** Kept runs that were still disturbed after the last retry. */
  disturbedKept: number;
  /** Repetitions with no run kept: even the last attempt hit its deadline. */
  dropped: number;
}

export interface ModelRuns {
  model: BenchModel;
  threads: number;
  contextSize: number;
  engines: Record<EngineKey, EngineRuns>;
  /** A setup error that stopped the whole model (e.g. the file is missing). */
  error: string | null;
  /** Time spent waiting for other processes to leave the CPUs. */
  quietWaitMs: number;
  /** Repetitions done (fewer than model.reps when the time limit stopped them). */
  repsDone: number;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const tg = (r: EngineRuns) => (r.error ? null : median(r.runs.map((x) => x.tgTps)));
const pp = (r: EngineRuns) => (r.error ? null : median(r.runs.map((x) => x.ppTps)));
const best = (r: EngineRuns) => (r.error || r.runs.length === 0 ? null : Math.max(...r.runs.map((x) => x.tgTps)));

/**
 * Whether the figures are too disturbed to trust: over a quarter of the timed runs were kept
 * disturbed or dropped, or the time limit cut the repetitions below three.
 */
export function noisy(m: ModelRuns): boolean {
  const engines = Object.values(m.engines).filter((e) => !e.error);
  const bad = engines.reduce((n, e) => n + e.disturbedKept + e.dropped, 0);
  const total = engines.reduce((n, e) => n + e.runs.length + e.dropped, 0);
  return m.repsDone < Math.min(3, m.model.reps) || (total > 0 && bad / total > 0.25);
}

/** The JSON object for one model (see native/bench/README.md for every key). */
export function modelJson(m: ModelRuns): Record<string, unknown> {
  const e = m.engines;
  const rC = ratio(tg(e.gogrid), tg(e.c_loop));
  const rN = ratio(tg(e.gogrid), tg(e.node_llama_cpp));
  const goalC = rC === null ? null : rC >= m.model.targetVsCLoop;
  const goalN = m.model.targetVsNodeLlamaCpp === null || rN === null ? null : rN >= m.model.targetVsNodeLlamaCpp;
  const retried = Object.fromEntries((Object.keys(e) as EngineKey[]).map((k) => [k, e[k].retried]));
  const disturbedKept = (Object.keys(e) as EngineKey[]).reduce((n, k) => n + e[k].disturbedKept, 0);
  const dropped = (Object.keys(e) as EngineKey[]).reduce((n, k) => n + e[k].dropped, 0);
  const errors = Object.fromEntries(
    (Object.keys(e) as EngineKey[]).flatMap((k) => (e[k].error ? [[k, e[k].error]] : [])).concat(m.error ? [["setup", m.error]] : []),
  );
  return {
    model: m.model.name,
    threads: m.threads,
    context_size: m.contextSize,
    prompt_tokens: m.model.promptTokens,
    decode_tokens: m.model.decodeTokens,
    reps: m.model.reps,
    reps_done: m.repsDone,
    gogrid_tps: round(tg(e.gogrid), 2),
    c_loop_tps: round(tg(e.c_loop), 2),
    node_llama_cpp_tps: round(tg(e.node_llama_cpp), 2),
    ratio_vs_c_loop: round(rC, 4),
    ratio_vs_node_llama_cpp: round(rN, 4),
    c_loop_threadpool_tps: round(tg(e.c_loop_threadpool), 2),
    ratio_vs_c_loop_threadpool: round(ratio(tg(e.gogrid), tg(e.c_loop_threadpool)), 4),
    gogrid_best_tps: round(best(e.gogrid), 2),
    c_loop_best_tps: round(best(e.c_loop), 2),
    best_ratio_vs_c_loop: round(ratio(best(e.gogrid), best(e.c_loop)), 4),
    gogrid_pp_tps: round(pp(e.gogrid), 2),
    c_loop_pp_tps: round(pp(e.c_loop), 2),
    node_llama_cpp_pp_tps: round(pp(e.node_llama_cpp), 2),
    c_loop_threadpool_pp_tps: round(pp(e.c_loop_threadpool), 2),
    pp_ratio_vs_c_loop: round(ratio(pp(e.gogrid), pp(e.c_loop)), 4),
    pp_ratio_vs_node_llama_cpp: round(ratio(pp(e.gogrid), pp(e.node_llama_cpp)), 4),
    target_vs_c_loop: m.model.targetVsCLoop,
    target_vs_node_llama_cpp: m.model.targetVsNodeLlamaCpp,
    goal_vs_c_loop_met: goalC,
    goal_vs_node_llama_cpp_met: goalN,
    goal_met: goalC === null ? null : goalC && goalN !== false,
    retried_runs: retried,
    disturbed_runs_kept: disturbedKept,
    dropped_runs: dropped,
    noisy: noisy(m),
    quiet_wait_s: round(m.quietWaitMs / 1000, 1),
    ...(Object.keys(errors).length > 0 ? { errors } : {}),
  };
}

function retriedText(r: EngineRuns): string {
  const notes = [r.disturbedKept ? `${r.disturbedKept} kept` : "", r.dropped ? `${r.dropped} dropped` : ""].filter(Boolean);
  return notes.length ? `${r.retried} (${notes.join(", ")})` : String(r.retried);
}

function fmt(v: number | null, digits = 1): string {
  return v === null ? "-" : v.toFixed(digits);
}

function spread(values: number[]): string {
  if (values.length < 2) return "";
  return `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
}

/** The human table: one row per model and engine, ratios of gogrid over that engine. */
export function table(all: ModelRuns[]): string {
  const head = ["model", "engine", "pp tok/s", "decode tok/s", "decode min–max", "retried", "gogrid/this decode", "gogrid/this pp"];
  const rows: string[][] = [];
  for (const m of all) {
    if (m.error) {
      rows.push([m.model.name, "(all)", "-", "-", "", "", "", m.error]);
      continue;
    }
    const g = m.engines.gogrid;
    for (const k of Object.keys(ENGINE_LABELS) as EngineKey[]) {
      const r = m.engines[k];
      if (r.error) {
        rows.push([m.model.name, ENGINE_LABELS[k], "-", "-", "", "", "", r.error.startsWith("skipped") ? r.error : `failed: ${r.error}`]);
        continue;
      }
      const same = k === "gogrid";
      rows.push([
        m.model.name,
        ENGINE_LABELS[k],
        fmt(pp(r)),
        fmt(tg(r)),
        spread(r.runs.map((x) => x.tgTps)),
        retriedText(r),
        same ? "" : fmt(ratio(tg(g), tg(r)), 3),
        same ? "" : fmt(ratio(pp(g), pp(r)), 3),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.min((r[i] ?? "").length, 60))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** One line per model on whether its decode goals hold. */
export function goalsSummary(all: ModelRuns[]): string {
  return all
    .map((m) => {
      const j = modelJson(m);
      const parts = [`decode ≥ ${m.model.targetVsCLoop} × C loop: ${verdict(j.goal_vs_c_loop_met, j.ratio_vs_c_loop)}`];
      if (m.model.targetVsNodeLlamaCpp !== null) {
        parts.push(
          `≥ ${m.model.targetVsNodeLlamaCpp} × node-llama-cpp: ${verdict(j.goal_vs_node_llama_cpp_met, j.ratio_vs_node_llama_cpp)}`,
        );
      }
      const warn = noisy(m) ? ` — NOISY (machine busy: ${m.repsDone}/${m.model.reps} reps, see retried); rerun on a quiet machine` : "";
      return `${m.model.name}: ${parts.join("; ")}${warn}`;
    })
    .join("\n");
}

function verdict(met: unknown, value: unknown): string {
  if (met === null || met === undefined) return "not measured";
  return `${met ? "met" : "NOT met"} (${typeof value === "number" ? value.toFixed(3) : "-"})`;
}

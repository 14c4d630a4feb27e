// `bun run bench:batch`: aggregate tokens/s of 1, 4 and 16 jobs sharing one context, next to a batched C loop on the same libllama.
//
// GoGrid: LlamaEngine → loadModel → createContext({ sequences: N }) → N concurrent ctx.generate()
// (temperature 0, ignoreEos), each read with for-await as the worker does. Anchor: native/bench/c-loop.c
// with n_seq = N (one batch per step holding a token of every sequence, same prompts, same
// threads, a persistent threadpool as GoGrid's CPU contexts have). Aggregate tokens/s = all
// generated tokens over the wall time of the run, prompts included. The runs alternate between the
// two engines, rep by rep. The temperature-0 output of every concurrent job is compared with the
// same prompt generated alone. Last stdout line: a JSON array, one object per N.
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { buildCLoop, startCLoop } from "../native/bench/children.ts";
import { waitForQuiet } from "../native/bench/cpu-load.ts";
import { BACKEND_PICKS, type BackendPick } from "../native/bench/options.ts";
import { median } from "../native/bench/report.ts";
import type { EngineRunner } from "../native/bench/runner.ts";
import { acceleratorNames, LlamaEngine, type LlamaModel } from "../native/src/index.ts";
import { parseFlags } from "./flags.ts";
import { finish, machine, progress, ratio, round, table } from "./report.ts";

export const DEFAULT_MODEL = join(import.meta.dir, "..", "..", "shared", "models", "stories260K.gguf");

export interface BatchOptions {
  model: string;
  /** llama.cpp build: "cpu" (default), a GPU kind (every layer offloaded, the C loop too) or "auto". */
  backend?: BackendPick;
  /** One KV buffer for all sequences, GoGrid's contexts and the C loop alike (default false). */
  kvUnified?: boolean;
  /** Jobs of different lengths (1/4 to all of decodeTokens), so some end between busy ones. */
  mixedLengths?: boolean;
  /** GoGrid moves a sequence into a hole a finished job leaves (default true; false to measure it). */
  fillHoles?: boolean;
  threads: number;
  sequences: number[];
  promptTokens: number;
  decodeTokens: number;
  reps: number;
  cLoop: boolean;
  log: (line: string) => void;
}

export interface BatchRow {
  model: string;
  threads: number;
  sequences: number;
  prompt_tokens: number;
  decode_tokens: number;
  reps: number;
  gogrid_tps: number | null;
  gogrid_best_tps: number | null;
  gogrid_ratio_vs_1: number | null;
  c_loop_tps: number | null;
  c_loop_ratio_vs_1: number | null;
  ratio_vs_c_loop: number | null;
  outputs_equal: boolean;
  outputs_mismatched: number;
  /**
   * The C loop's first sequence generated the same tokens here as alone (its 1-job case); null
   * when there is no 1-job case or no C loop. Tells whether a batch changes the library's own
   * temperature-0 output (GPU kernels differ by batch size), whatever GoGrid does.
   */
  c_loop_seq0_equal_alone: boolean | null;
  kv_unified: boolean;
  mixed_lengths: boolean;
  fill_holes: boolean;
  /** Sequences GoGrid moved into holes per run (ContextStats.moves). */
  moves_per_run: number;
  /** Build and device the run computed on. */
  backend: string;
  device: string;
  /** Issue 10 on a GPU, 16 and 64 jobs: gogrid ≥ 0.9 × the C loop's batched decode (null: not judged). */
  target_vs_c_loop: number | null;
  goal_met: boolean | null;
  c_loop_error?: string;
}

/** Issue 10's goal for concurrent jobs on a GPU: the aggregate ≥ 0.9 × the batched C loop, at 16 and 64 jobs. */
export const GPU_BATCH_TARGET = 0.9;
const GPU_JUDGED_JOBS = [16, 64];

/** Prompt `i`: BOS then P−1 pseudo-random ids (its own seed), so every job continues a different text. */
export function distinctPrompt(i: number, count: number, vocabSize: number, bos: number): Int32Array {
  const out = new Int32Array(count);
  let x = (0x9e3779b9 * (i + 1)) >>> 0;
  for (let k = 0; k < count; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[k] = 3 + ((x >>> 8) % (vocabSize - 3));
  }
  if (bos >= 0 && bos < vocabSize) out[0] = bos;
  return out;
}

/**
 * Tokens job `i` generates: `decodeTokens`, or with mixed lengths a fixed spread from a quarter
 * of it to all of it (so jobs end at different steps, leaving holes between busy sequences).
 */
export function jobTokens(i: number, decodeTokens: number, mixed: boolean): number {
  return mixed ? Math.max(2, Math.round(decodeTokens * (0.25 + (0.75 * ((i * 37) % 64)) / 63))) : decodeTokens;
}

/** One concurrent run: N generations at once in `ctx` (job i: lengths[i] tokens); the aggregate tokens/s and every text. */
async function runConcurrent(
  ctx: ReturnType<LlamaModel["createContext"]>,
  prompts: Int32Array[],
  lengths: number[],
): Promise<{ tps: number; texts: string[]; generated: number }> {
  const t0 = performance.now();
  const gens = prompts.map((p, i) => ctx.generate(p, { temperature: 0, maxTokens: lengths[i] as number, ignoreEos: true }));
  const texts = await Promise.all(
    gens.map(async (g) => {
      let text = "";
      for await (const chunk of g) text += chunk;
      return text;
    }),
  );
  const results = await Promise.all(gens.map((g) => g.result));
  const wall = (performance.now() - t0) / 1000;
  const generated = results.reduce((n, r) => n + r.generatedTokens, 0);
  return { tps: generated / wall, texts, generated };
}

export async function benchBatch(o: BatchOptions): Promise<BatchRow[]> {
  const engine = await LlamaEngine.open({ backend: o.backend ?? "cpu", logLevel: "silent" });
  const gpu = engine.choice.variant.backend !== "cpu";
  const device = acceleratorNames(engine.devices()) || "CPU";
  const model = await engine.loadModel(o.model);
  const name = (o.model.split("/").pop() ?? o.model).replace(/\.gguf$/i, "");
  const maxN = Math.max(...o.sequences);
  const prompts = Array.from({ length: maxN }, (_, i) => distinctPrompt(i, o.promptTokens, model.info.vocabSize, model.bos));
  const contextSize = Math.max(16, o.promptTokens + o.decodeTokens + 8);
  const pids = [process.pid];
  let cLoopBinary: string | null = null;
  const mixed = o.mixedLengths ?? false;
  const lengths = prompts.map((_, i) => jobTokens(i, o.decodeTokens, mixed));
  let cLoopError: string | null = !o.cLoop
    ? "skipped (--no-c-loop)"
    : mixed
      ? "skipped (--mixed-lengths: the C loop gives every sequence the same length)"
      : null;
  let cAlone0: number | null = null;
  const kvUnified = o.kvUnified ?? false;
  if (cLoopError === null) {
    try {
      cLoopBinary = await buildCLoop(engine.choice.variant);
    } catch (e) {
      cLoopError = e instanceof Error ? e.message : String(e);
    }
  }
  // every prompt alone, temperature 0: the reference texts
  o.log(`${name}: ${maxN} prompts alone (${o.decodeTokens} tokens each)`);
  const alone: string[] = [];
  {
    const ctx = model.createContext({ sequences: 1, contextSize, threads: o.threads, batchSize: 512, kvUnified });
    for (const [i, p] of prompts.entries()) alone.push((await runConcurrent(ctx, [p], [lengths[i] as number])).texts[0] as string);
    ctx.dispose();
  }
  const rows: BatchRow[] = [];
  for (const n of o.sequences) {
    const ps = prompts.slice(0, n);
    const fillHoles = o.fillHoles ?? true;
    const ctx = model.createContext({ sequences: n, contextSize, threads: o.threads, batchSize: 512, kvUnified, fillHoles });
    const ls = lengths.slice(0, n);
    let c: EngineRunner | null = null;
    let cErr = cLoopError;
    if (cLoopBinary) {
      try {
        const spec = {
          modelPath: o.model,
          threads: o.threads,
          contextSize,
          decodeTokens: o.decodeTokens,
          prompt: ps[0] as Int32Array,
          kvUnified,
        };
        // a persistent threadpool as GoGrid's CPU contexts have; on a GPU the CPU threads barely work
        c = await startCLoop(cLoopBinary, engine.choice.variant, { ...spec, sequences: n, prompts: ps }, !gpu && o.threads > 1);
        pids.push(c.pid);
      } catch (e) {
        cErr = e instanceof Error ? e.message : String(e);
      }
    }
    const g: number[] = [];
    const cl: number[] = [];
    let mismatched = 0;
    let cSeq0: number | null = null;
    // warm-up each, then the timed reps, alternating which engine goes first
    await runConcurrent(ctx, ps, ls);
    await c?.run().catch(() => {});
    for (let rep = 0; rep < o.reps; rep++) {
      await waitForQuiet(pids, 5000);
      const order = rep % 2 === 0 ? ["gogrid", "c"] : ["c", "gogrid"];
      for (const who of order) {
        if (who === "gogrid") {
          const r = await runConcurrent(ctx, ps, ls);
          g.push(r.tps);
          if (rep === 0) mismatched = r.texts.filter((t, i) => t !== alone[i]).length;
        } else if (c) {
          try {
            const r = await c.run();
            if (r.generated !== n * o.decodeTokens) throw new Error(`the C loop generated ${r.generated}, expected ${n * o.decodeTokens}`);
            cl.push(r.tgTps);
            cSeq0 ??= r.seqFnv?.[0] ?? null;
          } catch (e) {
            cErr = e instanceof Error ? e.message : String(e);
            await c.close().catch(() => {});
            c = null;
          }
        }
      }
    }
    await c?.close();
    const moves = ctx.stats().moves / (o.reps + 1); // the warm-up run and the timed ones
    ctx.dispose();
    if (n === 1) cAlone0 = cSeq0;
    const gt = median(g);
    const ct = cErr ? null : median(cl);
    o.log(`N=${n}: gogrid ${gt?.toFixed(1)} tok/s, C loop ${ct?.toFixed(1) ?? cErr} tok/s, outputs equal: ${mismatched === 0}`);
    rows.push({
      model: name,
      threads: o.threads,
      sequences: n,
      prompt_tokens: o.promptTokens,
      decode_tokens: o.decodeTokens,
      reps: o.reps,
      gogrid_tps: round(gt, 1),
      gogrid_best_tps: round(g.length ? Math.max(...g) : null, 1),
      gogrid_ratio_vs_1: null,
      c_loop_tps: round(ct, 1),
      c_loop_ratio_vs_1: null,
      ratio_vs_c_loop: round(ratio(gt, ct), 4),
      outputs_equal: mismatched === 0,
      outputs_mismatched: mismatched,
      c_loop_seq0_equal_alone: n === 1 || cSeq0 === null || cAlone0 === null ? null : cSeq0 === cAlone0,
      kv_unified: kvUnified,
      mixed_lengths: mixed,
      fill_holes: fillHoles,
      moves_per_run: round(moves, 1) as number,
      backend: engine.choice.variant.name,
      device,
      target_vs_c_loop: gpu && GPU_JUDGED_JOBS.includes(n) ? GPU_BATCH_TARGET : null,
      goal_met: null,
      ...(cErr ? { c_loop_error: cErr } : {}),
    });
  }
  const one = rows.find((r) => r.sequences === 1);
  for (const r of rows) {
    r.gogrid_ratio_vs_1 = round(ratio(r.gogrid_tps, one?.gogrid_tps ?? null), 3);
    r.c_loop_ratio_vs_1 = round(ratio(r.c_loop_tps, one?.c_loop_tps ?? null), 3);
    // the speed goal alone: whether outputs match is its own column (on a GPU the library's own
    // temperature-0 output changes with the batch, see c_loop_seq0_equal_alone)
    r.goal_met = r.target_vs_c_loop === null || r.ratio_vs_c_loop === null ? null : r.ratio_vs_c_loop >= r.target_vs_c_loop;
  }
  model.dispose();
  return rows;
}

export function batchTable(rows: BatchRow[]): string {
  return table(
    [
      "model",
      "jobs",
      "gogrid tok/s",
      "× 1 job",
      "C loop tok/s",
      "× 1 job",
      "gogrid/C",
      "outputs = alone",
      "C loop seq 0 = alone",
      "moves/run",
      "goal",
    ],
    rows.map((r) => [
      r.model,
      r.sequences,
      r.gogrid_tps,
      r.gogrid_ratio_vs_1,
      r.c_loop_tps ?? r.c_loop_error ?? "-",
      r.c_loop_ratio_vs_1,
      r.ratio_vs_c_loop,
      r.outputs_equal ? "yes" : `NO (${r.outputs_mismatched} differ)`,
      r.c_loop_seq0_equal_alone === null ? "-" : r.c_loop_seq0_equal_alone ? "yes" : "NO",
      r.fill_holes ? r.moves_per_run : "off",
      r.goal_met === null ? "-" : `${r.goal_met ? "met" : "NOT met"} (≥ ${r.target_vs_c_loop})`,
    ]),
  );
}

if (import.meta.main) {
  const FLAGS = {
    model: { type: "string", default: DEFAULT_MODEL, description: "a GGUF file (bun run make-model -- --preset 1b ... makes a 1B one)" },
    sequences: { type: "string", default: "1,4,16", description: "concurrent jobs per case, comma-separated" },
    threads: { type: "string", default: String(cpus().length), description: "CPU threads" },
    "prompt-tokens": { type: "string", default: "32", description: "prompt tokens of each job" },
    tokens: { type: "string", default: "128", description: "tokens each job generates" },
    reps: { type: "string", default: "3", description: "timed runs per case and engine (median)" },
    backend: { type: "string", default: "cpu", description: `llama.cpp build: ${BACKEND_PICKS.join(" | ")} (GPU: every layer offloaded)` },
    "kv-unified": { type: "boolean", default: false, description: "one KV buffer for all sequences (GoGrid and the C loop)" },
    "mixed-lengths": {
      type: "boolean",
      default: false,
      description: "jobs of different lengths (¼ to all of --tokens), so some end between busy ones (no C loop anchor)",
    },
    "no-fill-holes": { type: "boolean", default: false, description: "GoGrid leaves the holes finished jobs leave (to measure the move)" },
    "no-c-loop": { type: "boolean", default: false, description: "skip the C loop anchor" },
    quick: { type: "boolean", default: false, description: "a smoke run (32 tokens, 1 rep)" },
  } as const;
  const f = parseFlags("bench:batch", FLAGS, Bun.argv.slice(2));
  const quick = f.bool("quick");
  const sequences = f
    .str("sequences")
    .split(",")
    .map((s) => Number(s.trim()));
  if (sequences.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) {
    process.stderr.write(`bench:batch: --sequences must be integers from 1 to 256, got "${f.str("sequences")}"\n`);
    process.exit(2);
  }
  const backend = f.str("backend");
  if (!(BACKEND_PICKS as readonly string[]).includes(backend)) {
    process.stderr.write(`bench:batch: --backend must be one of ${BACKEND_PICKS.join(", ")}, got "${backend}"\n`);
    process.exit(2);
  }
  const o: BatchOptions = {
    model: resolve(f.str("model")),
    backend: backend as BackendPick,
    kvUnified: f.bool("kv-unified"),
    mixedLengths: f.bool("mixed-lengths"),
    fillHoles: !f.bool("no-fill-holes"),
    threads: f.num("threads", 1),
    sequences,
    promptTokens: f.num("prompt-tokens", 1),
    decodeTokens: quick ? 32 : f.num("tokens", 2),
    reps: quick ? 1 : f.num("reps", 1),
    cLoop: !f.bool("no-c-loop"),
    log: progress("batch"),
  };
  const rows = await benchBatch(o);
  const on = rows[0]
    ? `; ${rows[0].backend} on ${rows[0].device}${o.kvUnified ? ", unified KV" : ""}${o.mixedLengths ? ", mixed lengths" : ""}`
    : "";
  const head = `bench:batch — ${machine(`threads ${o.threads}`)}${on}; aggregate tok/s = all generated tokens / wall time (prompts included), median of ${o.reps}`;
  finish(`${head}\n\n${batchTable(rows)}\n`, rows);
}

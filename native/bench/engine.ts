// `bun run bench:engine`: GoGrid vs a C loop on the same libllama vs node-llama-cpp, decode and prompt tok/s.
//
// Human lines and the table go to stdout, then the LAST stdout line is one JSON array (one object
// per model; keys in native/bench/README.md). Progress goes to stderr.
import { cpus, loadavg } from "node:os";
import { acceleratorNames, LlamaEngine, type LlamaModel } from "../src/index.ts";
import { buildCLoop, startCLoop, startNodeLlamaCpp } from "./children.ts";
import { GoGridRunner } from "./gogrid-runner.ts";
import { type BenchModel, benchModel, benchPrompt, ensureModel } from "./models.ts";
import { type BenchOptions, BenchUsageError, parseOptions, usage } from "./options.ts";
import { ENGINE_LABELS, type EngineKey, type EngineRuns, goalsSummary, type ModelRuns, modelJson, table } from "./report.ts";
import type { EngineRunner } from "./runner.ts";
import { RunScheduler } from "./schedule.ts";

const ENGINE_KEYS = Object.keys(ENGINE_LABELS) as EngineKey[];

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface Setup {
  engine: LlamaEngine;
  cLoop: string | null;
  cLoopError: string | null;
  /** The build offloads to a GPU: the CPU-only anchors are skipped. */
  gpu: boolean;
}

function emptyRuns(error: string | null): EngineRuns {
  return { runs: [], error, retried: 0, disturbedKept: 0, dropped: 0 };
}

/**
 * The engines in a deterministic pseudo-random order for repetition `rep`. A rotation would keep
 * every engine behind the same neighbour, and the run right after another process's run is the
 * one most often slowed down on a small VM.
 */
function shuffled<T>(items: T[], rep: number): T[] {
  const out = [...items];
  let seed = (rep + 1) >>> 0;
  const next = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Starts one engine, or records why it could not start (the others still run). */
async function start(
  engines: Record<EngineKey, EngineRuns>,
  k: EngineKey,
  make: () => Promise<EngineRunner>,
): Promise<EngineRunner | null> {
  try {
    return await make();
  } catch (e) {
    engines[k].error = errorText(e);
    progress(`${ENGINE_LABELS[k]} did not start: ${engines[k].error}`);
    return null;
  }
}

/** `deadline`: performance.now() after which no further repetition starts. */
async function measureModel(
  s: Setup,
  m: BenchModel,
  o: BenchOptions,
  setupError: string | null,
  deadline: () => number,
): Promise<ModelRuns> {
  const engines = Object.fromEntries(ENGINE_KEYS.map((k) => [k, emptyRuns(null)])) as unknown as Record<EngineKey, EngineRuns>;
  const result: ModelRuns = { model: m, threads: o.threads, contextSize: o.contextSize, engines, error: null, quietWaitMs: 0, repsDone: 0 };
  result.error = setupError;
  if (result.error) return result;
  if (m.promptTokens + m.decodeTokens > o.contextSize) {
    result.error = `prompt ${m.promptTokens} + decode ${m.decodeTokens} tokens do not fit --context-size ${o.contextSize}`;
    return result;
  }
  let model: LlamaModel;
  try {
    model = await s.engine.loadModel(m.path);
  } catch (e) {
    result.error = `gogrid could not load ${m.path}: ${errorText(e)}`;
    return result;
  }
  const prompt = benchPrompt(m.promptTokens, model.info.vocabSize, model.bos);
  const spec = { modelPath: m.path, threads: o.threads, contextSize: o.contextSize, decodeTokens: m.decodeTokens, prompt };
  const variant = s.engine.choice.variant;
  const runners = new Map<EngineKey, EngineRunner>();
  const add = async (k: EngineKey, skip: string | null, make: () => Promise<EngineRunner>) => {
    if (skip) {
      engines[k].error = skip;
      return;
    }
    progress(`${m.name}: starting ${ENGINE_LABELS[k]}`);
    const r = await start(engines, k, make);
    if (r) runners.set(k, r);
  };
  const cLoop = s.cLoop;
  await add(
    "gogrid",
    null,
    async () => new GoGridRunner(model, prompt, m.decodeTokens, { threads: o.threads, contextSize: o.contextSize }),
  );
  await add("c_loop", cLoop ? null : s.cLoopError, () => startCLoop(cLoop as string, variant, spec, false));
  const cpuOnly = s.gpu ? `skipped (CPU-only anchor; this run is on ${variant.backend})` : null;
  await add("c_loop_threadpool", o.noThreadpoolLoop ? "skipped (--no-threadpool-loop)" : (cpuOnly ?? (cLoop ? null : s.cLoopError)), () =>
    startCLoop(cLoop as string, variant, spec, true),
  );
  await add("node_llama_cpp", o.noNodeLlamaCpp ? "skipped (--no-node-llama-cpp)" : cpuOnly, () => startNodeLlamaCpp(spec));

  // One warm-up each, then the timed repetitions, interleaved in a fresh order each time.
  const pids = () => [process.pid, ...[...runners.values()].map((r) => r.pid)];
  const sched = new RunScheduler(m, o.maxRetries, pids, progress);
  const stopAt = deadline();
  for (let rep = -1; rep < m.reps; rep++) {
    if (rep >= 0 && performance.now() > stopAt) {
      progress(`${m.name}: out of its share of --time-limit after ${rep} reps; stopping here`);
      break;
    }
    const keys = ENGINE_KEYS.filter((k) => runners.has(k));
    const said: string[] = [];
    for (const k of rep < 0 ? keys : shuffled(keys, rep)) {
      const r = runners.get(k) as EngineRunner;
      const e = engines[k];
      try {
        const t = rep < 0 ? { fig: await sched.warmUp(r), retries: 0, disturbed: false } : await sched.timed(r);
        if (t.fig && t.fig.generated !== m.decodeTokens) throw new Error(`generated ${t.fig.generated} tokens, expected ${m.decodeTokens}`);
        if (rep >= 0) {
          e.retried += t.retries;
          if (t.fig) e.runs.push(t.fig);
          else e.dropped++;
          if (t.fig && t.disturbed) e.disturbedKept++;
        }
        said.push(`${ENGINE_LABELS[k]} ${t.fig ? t.fig.tgTps.toFixed(1) : "dropped"}${t.retries ? ` (${t.retries} retried)` : ""}`);
      } catch (err) {
        engines[k] = emptyRuns(errorText(err));
        progress(`${m.name}: ${ENGINE_LABELS[k]} failed: ${engines[k].error}`);
        runners.delete(k);
        await r.close().catch(() => {});
      }
    }
    progress(`${m.name} ${rep < 0 ? "warm-up" : `rep ${rep + 1}/${m.reps}`}: decode tok/s ${said.join(", ")}`);
    if (rep >= 0) result.repsDone = rep + 1;
  }
  result.quietWaitMs = sched.waitedMs;
  for (const r of runners.values()) await r.close();
  if (!model.disposed) model.dispose(); // when gogrid's runner failed before taking the model over
  return result;
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseOptions(Bun.argv.slice(2));
  } catch (e) {
    if (e instanceof BenchUsageError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  let engine: LlamaEngine;
  try {
    engine = await LlamaEngine.open({ backend: o.backend, logLevel: "silent" });
  } catch (e) {
    process.stderr.write(`bench:engine: --backend ${o.backend}: ${errorText(e)}\n`);
    return 1;
  }
  const variant = engine.choice.variant;
  const gpu = variant.backend !== "cpu";
  const device = acceleratorNames(engine.devices()) || "CPU";
  let cLoop: string | null = null;
  let cLoopError: string | null = null;
  try {
    cLoop = await buildCLoop(variant);
  } catch (e) {
    cLoopError = errorText(e);
  }
  const load = loadavg().map((x) => x.toFixed(2));
  console.log(
    `bench:engine — ${cpus()[0]?.model ?? "cpu"} (${cpus().length} cores), threads ${o.threads}, context ${o.contextSize}, load ${load.join(" ")}`,
  );
  console.log(`libllama: ${variant.llamaPath} (${variant.name}, ${variant.backend}${gpu ? `, every layer on ${device}` : ""})`);
  if (Number(load[0]) > 0.5 * cpus().length) console.log("note: the machine was busy when the bench started; figures may be noisy");

  const all: ModelRuns[] = [];
  const models = o.models.map((key) => benchModel(key, o.quick, o.reps, gpu));
  const setupErrors = models.map((m) => ensureModel(m, progress)); // a missing 1B model is made first
  const endAt = performance.now() + o.timeLimitS * 1000;
  for (const [i, m] of models.entries()) {
    // This model's share of the time left, weighed against the models still to come.
    const weightLeft = models.slice(i).reduce((w, x) => w + x.timeWeight, 0);
    const deadline = () => performance.now() + ((endAt - performance.now()) * m.timeWeight) / weightLeft;
    progress(`${m.name}: P=${m.promptTokens} M=${m.decodeTokens} reps=${m.reps} threads=${o.threads}`);
    all.push(await measureModel({ engine, cLoop, cLoopError, gpu }, m, o, setupErrors[i] ?? null, deadline));
  }
  console.log("");
  console.log(table(all));
  console.log("");
  console.log(goalsSummary(all));
  console.log(JSON.stringify(all.map((m) => ({ ...modelJson(m), backend: variant.backend, library: variant.name, device }))));
  return 0;
}

const code = await main();
process.exit(code);

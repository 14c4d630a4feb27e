// Flags of `bun run bench:engine`, each declared once (name, type, default, description) for --help and parsing.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";

export type ModelKey = "stories" | "1b" | "1b-q4";
export const MODEL_KEYS: readonly ModelKey[] = ["stories", "1b", "1b-q4"];
export type BackendPick = "cpu" | "auto" | "vulkan" | "cuda" | "metal";
export const BACKEND_PICKS: readonly BackendPick[] = ["cpu", "auto", "vulkan", "cuda", "metal"];

export interface BenchOptions {
  models: ModelKey[];
  /** Which llama.cpp build every engine uses: "cpu" (default), a GPU kind, or "auto" (the worker's probe order). */
  backend: BackendPick;
  threads: number;
  /** Timed repetitions per engine; null = the model's default. */
  reps: number | null;
  quick: boolean;
  /** Times a timed run is thrown away and repeated when other processes took CPU meanwhile. */
  maxRetries: number;
  /** Seconds the measurements may take in all (generating a missing model not counted). */
  timeLimitS: number;
  contextSize: number;
  /** Skip node-llama-cpp (it is the slowest on small models). */
  noNodeLlamaCpp: boolean;
  /** Skip the informative "C loop + threadpool" row. */
  noThreadpoolLoop: boolean;
  help: boolean;
}

interface Flag {
  type: "string" | "boolean";
  default: string | boolean;
  description: string;
}

const FLAGS = {
  models: {
    type: "string",
    default: "stories,1b",
    description: `models to measure, comma-separated: ${MODEL_KEYS.join(", ")} (1b = Q8_0, 1b-q4 = Q4_0)`,
  },
  backend: {
    type: "string",
    default: "cpu",
    description: `llama.cpp build: ${BACKEND_PICKS.join(" | ")} (a GPU build offloads every layer, GoGrid and the C loop alike)`,
  },
  threads: { type: "string", default: String(availableParallelism()), description: "CPU threads for every engine (all cores by default)" },
  reps: { type: "string", default: "", description: "timed repetitions per engine (default: stories 9, 1b 5; --quick: 3 and 1)" },
  "max-retries": {
    type: "string",
    default: "3",
    description: "times a timed run is repeated when other processes took CPU meanwhile (0: keep every run)",
  },
  "time-limit": {
    type: "string",
    default: "240",
    description: "seconds all measurements may take; a model out of its share stops with fewer reps",
  },
  quick: { type: "boolean", default: false, description: "fewer repetitions and tokens (a smoke run, not a measurement)" },
  "context-size": { type: "string", default: "1024", description: "KV cells of every context" },
  "no-node-llama-cpp": { type: "boolean", default: false, description: "skip node-llama-cpp" },
  "no-threadpool-loop": { type: "boolean", default: false, description: 'skip the informative "C loop + threadpool" row' },
  help: { type: "boolean", default: false, description: "show this help" },
} as const satisfies Record<string, Flag>;

export function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, f]: [string, Flag]) => {
    const left = `  --${name}${f.type === "string" ? " <value>" : ""}`;
    const def = f.type === "string" && f.default !== "" ? ` (default ${f.default})` : "";
    return `${left.padEnd(28)}${f.description}${def}`;
  });
  return ["usage: bun run bench:engine [flags]", "", ...lines].join("\n");
}

export class BenchUsageError extends Error {
  readonly code = "bench_usage";
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--${name} must be an integer ≥ 1, got "${text}"`);
  return n;
}

function nonNegativeInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new BenchUsageError(`--${name} must be an integer ≥ 0, got "${text}"`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new BenchUsageError(`${e instanceof Error ? e.message : String(e)}\n${usage()}`);
  }
  const str = (k: keyof typeof FLAGS) => String(values[k] ?? FLAGS[k].default);
  const models = str("models")
    .split(",")
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of models) {
    if (!(MODEL_KEYS as readonly string[]).includes(m))
      throw new BenchUsageError(`unknown model "${m}" (choose from ${MODEL_KEYS.join(", ")})`);
  }
  if (models.length === 0) throw new BenchUsageError("--models names no model");
  const backend = str("backend");
  if (!(BACKEND_PICKS as readonly string[]).includes(backend))
    throw new BenchUsageError(`unknown backend "${backend}" (choose from ${BACKEND_PICKS.join(", ")})`);
  return {
    models: models as ModelKey[],
    backend: backend as BackendPick,
    threads: positiveInt("threads", str("threads")),
    reps: str("reps") === "" ? null : positiveInt("reps", str("reps")),
    quick: values.quick === true,
    maxRetries: nonNegativeInt("max-retries", str("max-retries")),
    timeLimitS: positiveInt("time-limit", str("time-limit")),
    contextSize: positiveInt("context-size", str("context-size")),
    noNodeLlamaCpp: values["no-node-llama-cpp"] === true,
    noThreadpoolLoop: values["no-threadpool-loop"] === true,
    help: values.help === true,
  };
}

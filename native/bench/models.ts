// The benchmark models (stories260K and a random-weight 1B of TinyLlama shape), their sizes, and the shared prompt.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ModelKey } from "./options.ts";

const REPO = join(import.meta.dir, "..", "..");

export interface BenchModel {
  key: ModelKey;
  /** Name in the report. */
  name: string;
  path: string;
  promptTokens: number;
  decodeTokens: number;
  reps: number;
  /** Share of `--time-limit` this model gets, relative to the other models measured. */
  timeWeight: number;
  /** Tokens of the untimed settle run each engine makes right before each timed run. */
  settleTokens: number;
  /** decode target: gogrid ≥ this × the C loop. */
  targetVsCLoop: number;
  /** decode target: gogrid ≥ this × node-llama-cpp (null: none set). */
  targetVsNodeLlamaCpp: number | null;
  /** Matrix type scripts/make-gguf.ts writes when the file is missing (null: not generated). */
  makeType: "q8_0" | "q4_0" | null;
}

/**
 * `gpu`: the engines offload to a GPU. The 1B model then generates 256 tokens per run (64 take
 * ~0.1 s there) and the decode target is issue 10's 0.97 × the C loop on the same backend.
 */
export function benchModel(key: ModelKey, quick: boolean, reps: number | null, gpu = false): BenchModel {
  if (key === "stories") {
    return {
      key,
      name: "stories260K",
      path: join(REPO, "..", "shared", "models", "stories260K.gguf"),
      promptTokens: 64,
      decodeTokens: quick ? 128 : 256,
      reps: reps ?? (quick ? 3 : 9),
      timeWeight: 2,
      settleTokens: 64,
      targetVsCLoop: 0.97,
      targetVsNodeLlamaCpp: 10,
      makeType: null,
    };
  }
  const type = key === "1b-q4" ? "q4_0" : "q8_0";
  return {
    key,
    name: `1b-${type}`,
    path: join(REPO, "bench-models", `1b-${type}.gguf`),
    promptTokens: quick ? 64 : 128,
    decodeTokens: gpu ? (quick ? 32 : 256) : quick ? 16 : 64,
    reps: reps ?? (quick ? 1 : 5),
    timeWeight: 3,
    settleTokens: 2,
    targetVsCLoop: gpu ? 0.97 : 0.99,
    targetVsNodeLlamaCpp: null,
    makeType: type,
  };
}

/** Makes a missing generated model with scripts/make-gguf.ts; returns an error text, or null when the file is there. */
export function ensureModel(m: BenchModel, log: (line: string) => void): string | null {
  if (existsSync(m.path)) return null;
  if (m.makeType === null) return `${m.path} is missing (the shared test data)`;
  log(`generating ${m.path} (random weights, TinyLlama-1.1B shape, ${m.makeType}) with scripts/make-gguf.ts ...`);
  const script = join(REPO, "scripts", "make-gguf.ts");
  const proc = Bun.spawnSync([process.execPath, script, "--preset", "1b", "--type", m.makeType, "--out", m.path], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0 || !existsSync(m.path)) {
    return `make-gguf failed (${proc.exitCode}): ${proc.stderr.toString().trim().split("\n").slice(-2).join(" | ")}`;
  }
  return null;
}

/**
 * The prompt every engine processes: BOS (when the model has one) then deterministic pseudo-random
 * ids above the usual special ids. Speed depends on the count, not the text.
 */
export function benchPrompt(count: number, vocabSize: number, bos: number): Int32Array {
  const out = new Int32Array(count);
  let x = 0x2545f491;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = 3 + ((x >>> 8) % (vocabSize - 3));
  }
  if (bos >= 0 && bos < vocabSize) out[0] = bos;
  return out;
}

// Sampling options: validation, defaults, and the llama.cpp sampler chain built from them.
import type { LlamaBackend } from "./backend.ts";
import { InvalidOptionError } from "./errors.ts";
import { type Pointer, ptr } from "./ffi.ts";

export interface SamplingOptions {
  /** 0 = greedy (always the most likely token). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 disables. Default 40. */
  topK?: number;
  /** Nucleus sampling; 1 disables. Default 0.95. */
  topP?: number;
  /** Drop tokens below minP × the top probability; 0 disables. Default 0.05. */
  minP?: number;
  /** Penalty for repeating recent tokens; 1 disables. Default 1. */
  repeatPenalty?: number;
  /** How many recent tokens the repeat penalty looks at. Default 64. */
  repeatLastN?: number;
  /** Seed of the random sampler; the same seed and prompt give the same text. Default random. */
  seed?: number;
  /** Added to the logits of these token ids (-100 bans a token, +100 forces it), as OpenAI's logit_bias. */
  logitBias?: Record<number, number>;
}

export type ResolvedSampling = Required<Omit<SamplingOptions, "logitBias">> & { logitBias: [number, number][] };

function check(name: string, value: number | undefined, fallback: number, ok: (v: number) => boolean, expected: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || !ok(value)) throw new InvalidOptionError(name, value, expected);
  return value;
}

export function resolveSampling(o: SamplingOptions): ResolvedSampling {
  return {
    temperature: check("temperature", o.temperature, 0.8, (v) => v >= 0 && v <= 100, "a number from 0 to 100"),
    topK: check("topK", o.topK, 40, (v) => Number.isInteger(v) && v >= 0, "an integer ≥ 0"),
    topP: check("topP", o.topP, 0.95, (v) => v > 0 && v <= 1, "a number in (0, 1]"),
    minP: check("minP", o.minP, 0.05, (v) => v >= 0 && v <= 1, "a number in [0, 1]"),
    repeatPenalty: check("repeatPenalty", o.repeatPenalty, 1, (v) => v > 0 && v <= 10, "a number in (0, 10]"),
    repeatLastN: check("repeatLastN", o.repeatLastN, 64, (v) => Number.isInteger(v) && v >= 0, "an integer ≥ 0"),
    logitBias: Object.entries(o.logitBias ?? {}).map(([k, v]) => {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0) throw new InvalidOptionError("logitBias token", k, "a token id ≥ 0");
      return [id, check(`logitBias[${k}]`, v, 0, (x) => x >= -100 && x <= 100, "a number from -100 to 100")];
    }),
    seed: check(
      "seed",
      o.seed,
      Math.floor(Math.random() * 0xffffffff),
      (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff,
      "an integer from 0 to 4294967295",
    ),
  };
}

/** Builds a sampler chain (caller frees it with llama_sampler_free). */
export function buildSampler(backend: LlamaBackend, vocabSize: number, s: ResolvedSampling): Pointer {
  const L = backend.llama;
  const chain = backend.shim.gg_sampler_chain(0) as Pointer;
  const add = (smpl: unknown) => L.llama_sampler_chain_add(chain, smpl as Pointer);
  if (s.logitBias.length > 0) {
    const table = new DataView(new ArrayBuffer(8 * s.logitBias.length));
    s.logitBias.forEach(([token, bias], i) => {
      table.setInt32(i * 8, token, true);
      table.setFloat32(i * 8 + 4, bias, true);
    });
    add(L.llama_sampler_init_logit_bias(vocabSize, s.logitBias.length, ptr(table)));
  }
  if (s.repeatPenalty !== 1 && s.repeatLastN > 0) add(L.llama_sampler_init_penalties(vocabSize, s.repeatLastN, s.repeatPenalty, 0, 0));
  if (s.temperature === 0) {
    add(L.llama_sampler_init_greedy());
    return chain;
  }
  if (s.topK > 0) add(L.llama_sampler_init_top_k(s.topK));
  if (s.topP < 1) add(L.llama_sampler_init_top_p(s.topP, 1));
  if (s.minP > 0) add(L.llama_sampler_init_min_p(s.minP, 1));
  add(L.llama_sampler_init_temp(s.temperature));
  add(L.llama_sampler_init_dist(s.seed >>> 0));
  return chain;
}

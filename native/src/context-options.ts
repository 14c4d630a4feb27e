// Options, counters and the per-generation record of a LlamaContext.
import type { Pointer } from "./ffi.ts";
import type { Generation } from "./generation.ts";
import type { SamplingOptions } from "./sampling.ts";
import type { StopMatcher } from "./stop.ts";

export interface ContextOptions {
  /** KV cells (tokens) per sequence. Default: the model's training context, at most 4096. */
  contextSize?: number;
  /** Sequences that can generate at the same time. Default 1. */
  sequences?: number;
  /** CPU threads. Default: all cores. */
  threads?: number;
  /** Most tokens in one llama_decode call (prompt chunks are cut to fit). Default 512. */
  batchSize?: number;
  /**
   * Most prompt tokens in one step while other sequences are generating, so a long new prompt
   * does not stall the running streams (each still gets its token every step). With nothing
   * generating, a prompt takes the whole batch. Default 128.
   */
  promptChunk?: number;
  flashAttention?: boolean;
  /**
   * One KV buffer shared by all sequences (llama.cpp kv_unified) instead of one per sequence.
   * Default false. Unified, a decode step is always one pass whatever sequence ids are busy, but
   * every token's attention spans the cells of all sequences. Each sequence still gets
   * `contextSize` cells at most.
   */
  kvUnified?: boolean;
  /**
   * When a job ends between busy sequences, move the highest busy one into its id so a step
   * stays one pass (default true). Off only to measure what it saves (bench:batch --no-fill-holes).
   */
  fillHoles?: boolean;
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate. Default: until end of text or the context is full. */
  maxTokens?: number;
  /** Generation stops before the first occurrence of any of these; they are not returned. */
  stop?: string[];
  signal?: AbortSignal;
  /** Keep going past end-of-generation tokens (benchmarks). Default false. */
  ignoreEos?: boolean;
  /** For a text prompt: add BOS as the model asks. Default true. */
  addSpecial?: boolean;
}

/** What one decode step (one llama_decode call) held: for tests, benchmarks and logs. */
export interface StepInfo {
  /** Sequences that got their next token (one each). */
  generating: number[];
  /** Prompt tokens decoded for each sequence still reading its prompt. */
  prompt: { seq: number; tokens: number }[];
  /** Tokens in the batch. */
  batchTokens: number;
  /** The sequences in the order their tokens stand in the batch (ascending: see LlamaContext.step). */
  order: number[];
}

/** Counters since the context was created. */
export interface ContextStats {
  /** llama_decode calls (one per step). */
  steps: number;
  /** Tokens sampled-and-fed back by generating sequences. */
  generatedTokens: number;
  promptTokens: number;
  /** Most sequences that were generating in one step. */
  peakGenerating: number;
  /** Sequences moved into a lower id left free by a finished one (LlamaContext.fillHole). */
  moves: number;
}

export interface Job {
  gen: Generation;
  prompt: Int32Array;
  promptDone: number;
  /** Prompt tokens this job reads in the step being built. */
  promptTake: number;
  /** Tokens of this sequence in the KV cache. */
  pos: number;
  seq: number;
  sampler: Pointer | null;
  lastToken: number;
  batchIndex: number;
  generated: number;
  maxTokens: number;
  ignoreEos: boolean;
  text: string;
  decoder: TextDecoder;
  stop: StopMatcher;
  signal: AbortSignal | undefined;
  cancelled: boolean;
  tCreated: number;
  tAdmitted: number;
  tFirst: number;
  options: GenerateOptions;
}

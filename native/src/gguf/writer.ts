// Writes GGUF v3 files: a streaming writer, and random-weight llama models for tests and benchmarks.
//
// Tensor data is a per-shape pattern of valid blocks (a few MB, made once) repeated from a random
// block offset, streamed in large writes to `<path>.partial-*` and renamed into place when complete.
// Weight values only need to be valid and numerically tame: speed depends on shapes and types.

import type { FileHandle } from "node:fs/promises";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { encodeGgufHeader, type GgufKv, type GgufTensorHeader, kv } from "./encoder.ts";
import { GgufSpecError } from "./errors.ts";
import {
  alignUp,
  elementCount,
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GgmlType,
  LLAMA_FILE_TYPE,
  tensorByteSize,
  tensorShapeProblem,
  WRITABLE_TYPES,
  type WritableTensorType,
} from "./format.ts";
import { makeLlamaVocab, SPECIAL_TOKEN_COUNT } from "./vocab.ts";
import { blockBytes, constantF32, makeWeightPattern, Prng } from "./weights.ts";

/** A tensor to write: `pattern` repeated from byte `start` until the tensor is full. */
export interface GgufTensorSource {
  readonly name: string;
  /** ggml order, ne0 first. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** A whole number of blocks of `type`. */
  readonly pattern: Uint8Array;
  /** Where in the pattern the data starts (a whole number of blocks); default 0. */
  readonly start?: number;
}

export interface GgufWriteInput {
  /** `general.alignment` here (as u32) sets the data alignment; default 32. */
  readonly metadata: readonly GgufKv[];
  readonly tensors: readonly GgufTensorSource[];
}

const WRITE_CHUNK = 8 * 1024 * 1024;
let partialCounter = 0;
const PATTERN_BYTES = 4 * 1024 * 1024;

/** Buffers small writes and passes large ones straight to the file. */
class ChunkedSink {
  private readonly buf = new Uint8Array(WRITE_CHUNK);
  private used = 0;
  written = 0;

  constructor(private readonly fh: FileHandle) {}

  private async writeAll(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length; ) {
      const { bytesWritten } = await this.fh.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.written += bytes.length;
    if (bytes.length >= WRITE_CHUNK / 2) {
      await this.flush();
      await this.writeAll(bytes);
      return;
    }
    if (this.used + bytes.length > WRITE_CHUNK) await this.flush();
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  async zeros(n: number): Promise<void> {
    if (n > 0) await this.write(new Uint8Array(n));
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const pending = this.buf.subarray(0, this.used);
    this.used = 0;
    await this.writeAll(pending);
  }
}

function alignmentOf(path: string, metadata: readonly GgufKv[]): number {
  const entry = metadata.find((e) => e.key === "general.alignment");
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  const a = entry.type === "u32" ? entry.value : 0;
  if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
    throw new GgufSpecError(path, "general.alignment must be a u32 power of two");
  }
  return a;
}

/** Lay out and check the tensors; returns their header entries and byte sizes. */
function layout(path: string, tensors: readonly GgufTensorSource[], alignment: number) {
  const headers: GgufTensorHeader[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const problem = tensorShapeProblem(t.type, t.dims);
    if (problem) throw new GgufSpecError(path, `tensor "${t.name}": ${problem}`);
    const unit = blockBytes(t.type);
    if (t.pattern.length === 0 || t.pattern.length % unit !== 0 || (t.start ?? 0) % unit !== 0) {
      throw new GgufSpecError(path, `tensor "${t.name}": pattern is not a whole number of ${unit}-byte blocks`);
    }
    const size = tensorByteSize(t.type, t.dims);
    headers.push({ name: t.name, dims: t.dims, type: t.type, offset });
    sizes.push(size);
    offset += alignUp(size, alignment);
  }
  return { headers, sizes };
}

/** Write a GGUF v3 file; returns its size in bytes. */
export async function writeGguf(path: string, input: GgufWriteInput): Promise<number> {
  const alignment = alignmentOf(path, input.metadata);
  const { headers, sizes } = layout(path, input.tensors, alignment);
  const header = encodeGgufHeader(input.metadata, headers);
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial-${process.pid}-${partialCounter++}`;
  const fh = await open(partial, "w");
  try {
    const sink = new ChunkedSink(fh);
    await sink.write(header);
    await sink.zeros(alignUp(header.length, alignment) - header.length);
    for (const [i, t] of input.tensors.entries()) {
      const size = sizes[i] ?? 0;
      let off = (t.start ?? 0) % t.pattern.length;
      for (let left = size; left > 0; off = 0) {
        const n = Math.min(left, t.pattern.length - off);
        await sink.write(t.pattern.subarray(off, off + n));
        left -= n;
      }
      await sink.zeros(alignUp(size, alignment) - size);
    }
    await sink.flush();
    await fh.close();
    await rename(partial, path);
    return sink.written;
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(partial, { force: true });
    throw e;
  }
}

/** Shape of a llama model. */
export interface LlamaShape {
  readonly nVocab: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly nFf: number;
  readonly nCtx: number;
}

export interface LlamaModelSpec extends LlamaShape {
  readonly name: string;
  /** Type of the 2-D weights; norms are always F32. */
  readonly type: WritableTensorType;
  readonly seed: number;
}

/** Model shapes: `tiny` (~0.17M params, for probes and tests) and `1b` (TinyLlama-1.1B shape). */
export const GGUF_PRESETS = {
  tiny: { nVocab: 512, nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 4, nFf: 192, nCtx: 512 },
  "1b": { nVocab: 32000, nEmbd: 2048, nLayer: 22, nHead: 32, nHeadKv: 4, nFf: 5632, nCtx: 2048 },
} as const satisfies Record<string, LlamaShape>;

export type GgufPresetName = keyof typeof GGUF_PRESETS;

/** Seed of `writeTinyModel`, so every tiny model is byte-identical. */
export const TINY_MODEL_SEED = 1;

export interface WriteResult {
  readonly path: string;
  readonly bytes: number;
  readonly params: number;
  readonly tensors: number;
  readonly seconds: number;
}

/** Metadata key holding the JSON spec a generated model was made from. */
export const SPEC_METADATA_KEY = "gogrid.generator.spec";

interface LlamaTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly matrix: boolean;
}

/** Tensor names and shapes of a llama model, in file order. */
export function llamaTensorShapes(s: LlamaShape): LlamaTensor[] {
  const kvDim = (s.nEmbd / s.nHead) * s.nHeadKv;
  const out: LlamaTensor[] = [
    { name: "token_embd.weight", dims: [s.nEmbd, s.nVocab], matrix: true },
    { name: "output_norm.weight", dims: [s.nEmbd], matrix: false },
    { name: "output.weight", dims: [s.nEmbd, s.nVocab], matrix: true },
  ];
  for (let i = 0; i < s.nLayer; i++) {
    const b = `blk.${i}`;
    out.push(
      { name: `${b}.attn_norm.weight`, dims: [s.nEmbd], matrix: false },
      { name: `${b}.attn_q.weight`, dims: [s.nEmbd, s.nEmbd], matrix: true },
      { name: `${b}.attn_k.weight`, dims: [s.nEmbd, kvDim], matrix: true },
      { name: `${b}.attn_v.weight`, dims: [s.nEmbd, kvDim], matrix: true },
      { name: `${b}.attn_output.weight`, dims: [s.nEmbd, s.nEmbd], matrix: true },
      { name: `${b}.ffn_norm.weight`, dims: [s.nEmbd], matrix: false },
      { name: `${b}.ffn_gate.weight`, dims: [s.nEmbd, s.nFf], matrix: true },
      { name: `${b}.ffn_down.weight`, dims: [s.nFf, s.nEmbd], matrix: true },
      { name: `${b}.ffn_up.weight`, dims: [s.nEmbd, s.nFf], matrix: true },
    );
  }
  return out;
}

/** Number of weights of a llama model of this shape. */
export function llamaParamCount(s: LlamaShape): number {
  return llamaTensorShapes(s).reduce((n, t) => n + elementCount(t.dims), 0);
}

function checkSpec(path: string, s: LlamaModelSpec): void {
  const ints: (keyof LlamaShape)[] = ["nVocab", "nEmbd", "nLayer", "nHead", "nHeadKv", "nFf", "nCtx"];
  for (const k of ints) {
    if (!Number.isSafeInteger(s[k]) || s[k] <= 0) throw new GgufSpecError(path, `${k} must be a positive integer`);
  }
  if (s.nVocab <= SPECIAL_TOKEN_COUNT) throw new GgufSpecError(path, `nVocab must exceed ${SPECIAL_TOKEN_COUNT}`);
  if (s.nEmbd % s.nHead !== 0) throw new GgufSpecError(path, "nEmbd must be a multiple of nHead");
  if ((s.nEmbd / s.nHead) % 2 !== 0) throw new GgufSpecError(path, "the head size nEmbd/nHead must be even");
  if (s.nHead % s.nHeadKv !== 0) throw new GgufSpecError(path, "nHead must be a multiple of nHeadKv");
  if (!Object.hasOwn(WRITABLE_TYPES, s.type)) {
    throw new GgufSpecError(path, `type must be one of ${Object.keys(WRITABLE_TYPES).join(", ")}`);
  }
  if (!Number.isSafeInteger(s.seed)) throw new GgufSpecError(path, "seed must be an integer");
}

/** The type a matrix gets: the spec's, or F16 when its rows are not whole blocks of it. */
function matrixType(spec: LlamaModelSpec, ne0: number): GgmlType {
  const type = WRITABLE_TYPES[spec.type];
  const block = GGML_TYPES.get(type)?.blockSize ?? 1;
  return ne0 % block === 0 ? type : GgmlType.F16;
}

/** The spec as stored under SPEC_METADATA_KEY (stable key order). */
export function specJson(s: LlamaModelSpec): string {
  const { name, nVocab, nEmbd, nLayer, nHead, nHeadKv, nFf, nCtx, type, seed } = s;
  return JSON.stringify({ name, nVocab, nEmbd, nLayer, nHead, nHeadKv, nFf, nCtx, type, seed });
}

function llamaMetadata(s: LlamaModelSpec): GgufKv[] {
  const vocab = makeLlamaVocab(s.nVocab);
  return [
    kv.string("general.architecture", "llama"),
    kv.string("general.name", s.name),
    kv.u32("general.alignment", GGUF_DEFAULT_ALIGNMENT),
    kv.u32("general.file_type", LLAMA_FILE_TYPE[s.type]),
    kv.string(SPEC_METADATA_KEY, specJson(s)),
    kv.u32("llama.context_length", s.nCtx),
    kv.u32("llama.embedding_length", s.nEmbd),
    kv.u32("llama.block_count", s.nLayer),
    kv.u32("llama.feed_forward_length", s.nFf),
    kv.u32("llama.attention.head_count", s.nHead),
    kv.u32("llama.attention.head_count_kv", s.nHeadKv),
    kv.u32("llama.rope.dimension_count", s.nEmbd / s.nHead),
    kv.f32("llama.rope.freq_base", 10000),
    kv.f32("llama.attention.layer_norm_rms_epsilon", 1e-5),
    kv.u32("llama.vocab_size", s.nVocab),
    kv.string("tokenizer.ggml.model", "llama"),
    kv.strings("tokenizer.ggml.tokens", vocab.tokens),
    kv.f32s("tokenizer.ggml.scores", vocab.scores),
    kv.i32s("tokenizer.ggml.token_type", vocab.types),
    kv.u32("tokenizer.ggml.bos_token_id", 1),
    kv.u32("tokenizer.ggml.eos_token_id", 2),
    kv.u32("tokenizer.ggml.unknown_token_id", 0),
    kv.bool("tokenizer.ggml.add_bos_token", true),
    kv.bool("tokenizer.ggml.add_eos_token", false),
  ];
}

/** Write a random-weight llama GGUF v3 that llama.cpp loads; deterministic for a given spec. */
export async function writeLlamaGguf(path: string, spec: LlamaModelSpec): Promise<WriteResult> {
  const started = performance.now();
  checkSpec(path, spec);
  const rng = new Prng(spec.seed);
  const shapes = llamaTensorShapes(spec);
  // one pattern per (type, row length): values with sigma 1/sqrt(ne0) keep activations O(1)
  const largest = new Map<string, number>();
  for (const t of shapes.filter((x) => x.matrix)) {
    const type = matrixType(spec, t.dims[0] ?? 1);
    const key = `${type}:${t.dims[0]}`;
    largest.set(key, Math.max(largest.get(key) ?? 0, tensorByteSize(type, t.dims)));
  }
  const patterns = new Map<string, Uint8Array>();
  for (const [key, size] of [...largest].sort(([a], [b]) => a.localeCompare(b))) {
    const [type, ne0] = key.split(":").map(Number) as [GgmlType, number];
    patterns.set(key, makeWeightPattern(type, Math.min(size, PATTERN_BYTES), 1 / Math.sqrt(ne0), rng));
  }
  const ones = constantF32(spec.nEmbd, 1);
  const tensors = shapes.map((t): GgufTensorSource => {
    if (!t.matrix) return { name: t.name, dims: t.dims, type: GgmlType.F32, pattern: ones };
    const type = matrixType(spec, t.dims[0] ?? 1);
    const pattern = patterns.get(`${type}:${t.dims[0]}`) as Uint8Array;
    const unit = blockBytes(type);
    const start = rng.below(pattern.length / unit) * unit;
    return { name: t.name, dims: t.dims, type, pattern, start };
  });
  const bytes = await writeGguf(path, { metadata: llamaMetadata(spec), tensors });
  const params = shapes.reduce((n, t) => n + elementCount(t.dims), 0);
  const seconds = (performance.now() - started) / 1000;
  return { path, bytes, params, tensors: tensors.length, seconds };
}

/** Spec of the tiny model (`tiny` preset, given type, fixed seed). */
export function tinyModelSpec(type: WritableTensorType = "f32"): LlamaModelSpec {
  return { ...GGUF_PRESETS.tiny, name: `gogrid-tiny-${type}`, type, seed: TINY_MODEL_SEED };
}

/** Write the tiny model used by the backend probe and the demo (F32 unless told otherwise). */
export function writeTinyModel(path: string, type: WritableTensorType = "f32"): Promise<WriteResult> {
  return writeLlamaGguf(path, tinyModelSpec(type));
}

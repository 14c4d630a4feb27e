// Tests of the GGUF writer: tiny models of every type round-trip through the reader with valid data.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgufSpecError } from "./errors.ts";
import { alignUp, GgmlType, LLAMA_FILE_TYPE, WRITABLE_TYPES, type WritableTensorType } from "./format.ts";
import { type GgufInfo, type GgufTensorInfo, metadataNumber, readGgufHeader } from "./reader.ts";
import { makeLlamaVocab, SPECIAL_TOKEN_COUNT, TokenType } from "./vocab.ts";
import { f16BitsToF32, f32ToF16Bits } from "./weights.ts";
import {
  GGUF_PRESETS,
  type LlamaModelSpec,
  llamaParamCount,
  SPEC_METADATA_KEY,
  specJson,
  tinyModelSpec,
  writeLlamaGguf,
  writeTinyModel,
} from "./writer.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-writer-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TYPES = Object.keys(WRITABLE_TYPES) as WritableTensorType[];

async function tensorBytes(info: GgufInfo, t: GgufTensorInfo): Promise<Uint8Array> {
  const start = info.dataOffset + t.offset;
  return new Uint8Array(
    await Bun.file(info.path)
      .slice(start, start + t.byteSize)
      .arrayBuffer(),
  );
}

/** Number of stored values (blocks: scales) that are not finite and small. */
function badValues(t: GgufTensorInfo, bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: number[] = [];
  if (t.type === GgmlType.F32) for (let i = 0; i < bytes.length; i += 4) values.push(view.getFloat32(i, true));
  if (t.type === GgmlType.F16) for (let i = 0; i < bytes.length; i += 2) values.push(f16BitsToF32(view.getUint16(i, true)));
  const block = t.type === GgmlType.Q8_0 ? 34 : t.type === GgmlType.Q4_0 ? 18 : 0;
  for (let i = 0; block > 0 && i < bytes.length; i += block) {
    const d = f16BitsToF32(view.getUint16(i, true));
    values.push(d > 0 ? d : Number.NaN);
  }
  return values.filter((x) => !(Number.isFinite(x) && Math.abs(x) < 1.5)).length;
}

describe("tiny models round-trip through the reader", () => {
  for (const type of TYPES) {
    test(type, async () => {
      const path = join(dir, `tiny-${type}.gguf`);
      const result = await writeTinyModel(path, type);
      const spec = tinyModelSpec(type);
      const info = await readGgufHeader(path);
      const m = (key: string) => info.metadata.get(key);
      expect(info.architecture).toBe("llama");
      expect(info.version).toBe(3);
      expect(m("general.name")).toBe(spec.name);
      expect(m("general.alignment")).toBe(32);
      expect(m("general.file_type")).toBe(LLAMA_FILE_TYPE[type]);
      expect(m(SPEC_METADATA_KEY)).toBe(specJson(spec));
      const numbers: [string, number][] = [
        ["llama.context_length", 512],
        ["llama.embedding_length", 64],
        ["llama.block_count", 2],
        ["llama.feed_forward_length", 192],
        ["llama.attention.head_count", 4],
        ["llama.attention.head_count_kv", 4],
        ["llama.rope.dimension_count", 16],
        ["llama.vocab_size", 512],
        ["tokenizer.ggml.bos_token_id", 1],
        ["tokenizer.ggml.eos_token_id", 2],
        ["tokenizer.ggml.unknown_token_id", 0],
      ];
      for (const [key, value] of numbers) expect([key, metadataNumber(info, key)]).toEqual([key, value]);
      expect(m("llama.attention.layer_norm_rms_epsilon")).toBeCloseTo(1e-5, 9);
      expect(m("tokenizer.ggml.model")).toBe("llama");
      expect(m("tokenizer.ggml.add_bos_token")).toBe(true);
      const tokens = m("tokenizer.ggml.tokens") as string[];
      expect(tokens.length).toBe(512);
      expect((m("tokenizer.ggml.token_type") as Int32Array).length).toBe(512);
      expect((m("tokenizer.ggml.scores") as Float32Array).length).toBe(512);

      expect(info.tensors.length).toBe(3 + 9 * spec.nLayer);
      expect(result).toMatchObject({ bytes: info.fileSize, params: llamaParamCount(spec), tensors: 21 });
      expect(info.fileSize).toBe(info.dataOffset + alignUp(info.dataSize, 32));
      let expectedOffset = 0;
      for (const t of info.tensors) {
        expect(t.offset).toBe(expectedOffset); // contiguous, in order, as llama.cpp requires
        expectedOffset = alignUp(t.offset + t.byteSize, 32);
        expect(info.dataOffset + t.offset + t.byteSize).toBeLessThanOrEqual(info.fileSize);
        const isNorm = t.name.endsWith("norm.weight");
        expect(t.type).toBe(isNorm ? GgmlType.F32 : WRITABLE_TYPES[type]);
        const bytes = await tensorBytes(info, t);
        expect([t.name, badValues(t, bytes)]).toEqual([t.name, 0]);
        if (isNorm) expect(Array.from(new Float32Array(bytes.slice().buffer))).toEqual(new Array(64).fill(1));
      }
      const names = new Set(info.tensors.map((t) => t.name));
      for (const n of ["token_embd.weight", "output.weight", "blk.1.ffn_down.weight", "blk.0.attn_k.weight"]) {
        expect(names.has(n)).toBe(true);
      }
      expect(info.tensors.find((t) => t.name === "blk.0.ffn_down.weight")?.dims).toEqual([192, 64]);
    });
  }
});

describe("writer behaviour", () => {
  test("deterministic for a seed, different for another", async () => {
    const a = join(dir, "a.gguf");
    const b = join(dir, "b.gguf");
    const c = join(dir, "c.gguf");
    await writeTinyModel(a, "q8_0");
    await writeTinyModel(b, "q8_0");
    await writeLlamaGguf(c, { ...tinyModelSpec("q8_0"), seed: 99 });
    const [ba, bb, bc] = await Promise.all([a, b, c].map((p) => Bun.file(p).bytes()));
    expect(Bun.hash(ba as Uint8Array)).toBe(Bun.hash(bb as Uint8Array));
    expect(Bun.hash(ba as Uint8Array)).not.toBe(Bun.hash(bc as Uint8Array));
  });

  test("rows that are not whole quant blocks fall back to F16", async () => {
    const path = join(dir, "ff172.gguf");
    await writeLlamaGguf(path, { ...tinyModelSpec("q4_0"), nFf: 172 });
    const info = await readGgufHeader(path);
    const type = (name: string) => info.tensors.find((t) => t.name === name)?.type;
    expect(type("blk.0.ffn_down.weight")).toBe(GgmlType.F16);
    expect(type("blk.0.ffn_up.weight")).toBe(GgmlType.Q4_0);
  });

  test("invalid specs are refused with GgufSpecError", async () => {
    const base: LlamaModelSpec = tinyModelSpec("f32");
    const bad: Partial<LlamaModelSpec>[] = [{ nEmbd: 66 }, { nVocab: 100 }, { nHeadKv: 3 }, { nLayer: 0 }];
    for (const change of bad) {
      const path = join(dir, "bad.gguf");
      const err = await writeLlamaGguf(path, { ...base, ...change }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GgufSpecError);
      expect((err as GgufSpecError).code).toBe("model_spec_invalid");
      expect(await Bun.file(path).exists()).toBe(false);
    }
  });

  test("1b preset has the TinyLlama-1.1B shape", () => {
    expect(llamaParamCount(GGUF_PRESETS["1b"])).toBe(1_100_048_384);
  });
});

describe("helpers", () => {
  test("vocabulary: special and byte tokens, then distinct normal tokens with descending scores", () => {
    const v = makeLlamaVocab(32000);
    expect(v.tokens.length).toBe(32000);
    expect(new Set(v.tokens).size).toBe(32000);
    expect(v.tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(v.tokens[SPECIAL_TOKEN_COUNT - 1]).toBe("<0xFF>");
    expect(v.tokens[SPECIAL_TOKEN_COUNT]).toBe("\u2581");
    expect(Array.from(v.types.slice(0, 4))).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, 6]);
    expect(v.types.slice(SPECIAL_TOKEN_COUNT).every((t) => t === TokenType.NORMAL)).toBe(true);
    const normal = v.scores.slice(SPECIAL_TOKEN_COUNT);
    expect(normal.every((s, i) => i === 0 || s < (normal[i - 1] ?? 0))).toBe(true);
  });

  test("float to half conversion", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [1e9, 0x7bff], // saturates instead of Inf
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -14, 0x0400], // smallest normal
      [Number.NaN, 0x0000],
    ];
    for (const [x, bits] of cases) expect([x, f32ToF16Bits(x)]).toEqual([x, bits]);
    for (const x of [0.1, -0.015625, 0.0123, 2.71]) {
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(x)) - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11);
    }
  });
});

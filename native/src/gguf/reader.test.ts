// Tests of the GGUF reader: the real stories260K model, each named error, and fuzzed input.
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { encodeGgufHeader, type GgufKv, type GgufTensorHeader, kv } from "./encoder.ts";
import {
  GgufCorruptError,
  GgufError,
  GgufNotAGgufError,
  GgufNotFoundError,
  type GgufSection,
  GgufTruncatedError,
  GgufUnsupportedVersionError,
} from "./errors.ts";
import { alignUp, GgmlType } from "./format.ts";
import { metadataNumber, metadataString, parseGgufBuffer, readGgufHeader } from "./reader.ts";
import { writeLlamaGguf } from "./writer.ts";

const MODEL = join(import.meta.dir, "../../../../shared/models/stories260K.gguf");
let real: Uint8Array;
let dir: string;

beforeAll(async () => {
  real = new Uint8Array(await Bun.file(MODEL).arrayBuffer());
  dir = mkdtempSync(join(tmpdir(), "gguf-reader-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
async function tempFile(bytes: Uint8Array | string): Promise<string> {
  const path = join(dir, `f${fileNo++}.gguf`);
  await Bun.write(path, bytes);
  return path;
}

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<GgufError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(GgufError);
    return e as GgufError;
  }
  throw new Error("expected a rejection");
}

function thrown(fn: () => unknown): GgufError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GgufError);
    return e as GgufError;
  }
  throw new Error("expected an error");
}

/** A GGUF file from parts, with zeroed tensor data of `dataBytes`. */
function build(metadata: GgufKv[], tensors: GgufTensorHeader[], dataBytes: number): Uint8Array {
  const header = encodeGgufHeader([kv.string("general.architecture", "llama"), ...metadata], tensors);
  const out = new Uint8Array(alignUp(header.length, 32) + dataBytes);
  out.set(header);
  return out;
}

function patched(offset: number, bytes: number[]): Uint8Array {
  const copy = real.slice();
  copy.set(bytes, offset);
  return copy;
}

const u64le = (v: bigint): number[] => Array.from(new Uint8Array(new BigUint64Array([v]).buffer));

describe("stories260K", () => {
  test("reads architecture, vocabulary and tensors", async () => {
    const info = await readGgufHeader(MODEL);
    expect(info.version).toBe(3);
    expect(info.architecture).toBe("llama");
    expect(info.fileSize).toBe(real.length);
    const tokens = info.metadata.get("tokenizer.ggml.tokens");
    expect(Array.isArray(tokens) && tokens.length).toBe(512);
    expect((tokens as string[]).slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(info.metadata.get("tokenizer.ggml.scores")).toBeInstanceOf(Float32Array);
    expect(metadataString(info, "tokenizer.ggml.model")).toBe("llama");
    expect(metadataNumber(info, "llama.embedding_length")).toBe(64);
    expect(metadataNumber(info, "llama.block_count")).toBe(5);
    expect(info.tensors.length).toBe(3 + 9 * 5);
    const embd = info.tensors.find((t) => t.name === "token_embd.weight");
    expect(embd).toMatchObject({ dims: [64, 512], type: GgmlType.F32, typeName: "f32", byteSize: 64 * 512 * 4 });
    for (const t of info.tensors) expect(t.offset % info.alignment).toBe(0);
    expect(info.dataOffset % info.alignment).toBe(0);
    expect(info.dataOffset + info.dataSize).toBe(info.fileSize);
    expect(parseGgufBuffer(real).tensors).toEqual(info.tensors);
  });

  test("reads only a prefix of the file, in growing chunks", async () => {
    const big = join(dir, "big-vocab.gguf");
    const shape = { nVocab: 32000, nEmbd: 32, nLayer: 1, nHead: 2, nHeadKv: 2, nFf: 64, nCtx: 64 };
    await writeLlamaGguf(big, { ...shape, name: "big-vocab", type: "q4_0", seed: 3 });
    for (const path of [MODEL, big]) {
      const ranges: [number, number][] = [];
      const original = Bun.file;
      const spy = spyOn(Bun, "file").mockImplementation(((p: string) => {
        const f = original(p);
        const slice = (a: number, b: number) => {
          ranges.push([a, b]);
          return f.slice(a, b);
        };
        return { slice };
      }) as unknown as typeof Bun.file);
      try {
        const info = await readGgufHeader(path);
        const read = ranges.reduce((n, [a, b]) => n + b - a, 0);
        expect(read).toBeLessThan(info.fileSize);
        expect(read).toBeGreaterThanOrEqual(info.dataOffset - 32);
        for (const [i, [a]] of ranges.entries()) expect(a).toBe(i === 0 ? 0 : (ranges[i - 1]?.[1] ?? -1));
        if (path === big) expect(ranges.length).toBeGreaterThan(1);
      } finally {
        spy.mockRestore();
      }
    }
  });
});

describe("named errors", () => {
  test("missing file and directory", async () => {
    const missing = join(dir, "nope.gguf");
    const e = await rejection(readGgufHeader(missing));
    expect(e).toBeInstanceOf(GgufNotFoundError);
    expect(e.code).toBe("model_not_found");
    expect(e.message).toContain(missing);
    expect(await rejection(readGgufHeader(dir))).toBeInstanceOf(GgufNotFoundError);
  });

  test("empty, text, HTML, JSON and safetensors files", async () => {
    const cases: [Uint8Array | string, string][] = [
      ["", "empty"],
      ["hello, this is a plain text file\nwith lines\n", "text file"],
      ["<!DOCTYPE html><html><body>404</body></html>", "HTML page"],
      ['{"architectures": ["LlamaForCausalLM"]}', "JSON"],
      ["version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "Git LFS"],
      [new Uint8Array([...u64le(20n), ...new TextEncoder().encode('{"a":{"dtype":"F32"}}')]), "safetensors"],
      [new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1, 2]), "binary"],
    ];
    for (const [content, looksLike] of cases) {
      const path = await tempFile(content);
      const e = await rejection(readGgufHeader(path));
      expect(e).toBeInstanceOf(GgufNotAGgufError);
      expect(e.code).toBe("model_not_gguf");
      expect((e as GgufNotAGgufError).looksLike).toContain(looksLike);
      expect(e.message).toContain(path);
    }
  });

  test("unsupported versions", async () => {
    for (const version of [
      [1, 0, 0, 0],
      [4, 0, 0, 0],
      [0, 0, 0, 3],
      [0xff, 0xff, 0, 0],
    ]) {
      const e = await rejection(readGgufHeader(await tempFile(patched(4, version))));
      expect(e).toBeInstanceOf(GgufUnsupportedVersionError);
      expect(e.code).toBe("model_unsupported_version");
    }
  });

  test("truncated at the header, metadata, tensor infos and data", async () => {
    const infos = Buffer.from(real).indexOf("token_embd.weight") - 8;
    const info = parseGgufBuffer(real);
    const cuts: [number, GgufSection][] = [
      [2, "header"],
      [12, "header"],
      [24, "metadata"],
      [1000, "metadata"],
      [infos + 4, "tensor infos"],
      [infos + 300, "tensor infos"],
      [info.dataOffset - 3, "tensor data"], // in the padding before the data
      [info.dataOffset + 1000, "tensor data"],
      [real.length - 1, "tensor data"],
    ];
    for (const [cut, section] of cuts) {
      const path = await tempFile(real.subarray(0, cut));
      const e = await rejection(readGgufHeader(path));
      expect(e).toBeInstanceOf(GgufTruncatedError);
      const t = e as GgufTruncatedError;
      expect([cut, t.code, t.section]).toEqual([cut, "model_truncated", section]);
      expect(t.actualBytes).toBe(cut);
      expect(t.expectedBytes).toBeGreaterThan(cut);
      if (section === "tensor data") expect(t.expectedBytes).toBe(real.length);
      expect(e.message).toContain(`${t.expectedBytes} bytes`);
    }
  });

  test("corrupt counts, lengths and types", async () => {
    const corrupt: [string, Uint8Array][] = [
      ["absurd tensor count", patched(8, u64le(2_000_000n))],
      ["absurd key count", patched(16, u64le(1n << 40n))],
      ["absurd string length", patched(24, u64le(1n << 40n))],
      ["unknown value type", patched(24 + 8 + 21, [99, 0, 0, 0])], // after "tokenizer.ggml.tokens"
    ];
    for (const [what, bytes] of corrupt) {
      const e = await rejection(readGgufHeader(await tempFile(bytes)));
      expect([what, e.code]).toEqual([what, "model_corrupt"]);
      expect(e).toBeInstanceOf(GgufCorruptError);
    }
  });

  test("corrupt tensor infos", () => {
    const t = (name: string, dims: number[], type: GgmlType, offset: number) => ({ name, dims, type, offset });
    const cases: [string, Uint8Array][] = [
      ["unknown ggml type", build([], [t("a", [32], 4 as GgmlType, 0)], 64)],
      ["unknown ggml type", build([], [t("a", [32], 999 as GgmlType, 0)], 64)],
      ["block size", build([], [t("a", [33], GgmlType.Q8_0, 0)], 64)],
      ["overflow", build([], [t("a", [2 ** 40, 2 ** 40], GgmlType.F32, 0)], 64)],
      ["not a multiple", build([], [t("a", [4], GgmlType.F32, 0), t("b", [4], GgmlType.F32, 16)], 64)],
      ["overlaps", build([], [t("a", [16], GgmlType.F32, 0), t("b", [4], GgmlType.F32, 32)], 96)],
      ["duplicate tensor", build([], [t("a", [4], GgmlType.F32, 0), t("a", [4], GgmlType.F32, 32)], 64)],
      ["dimensions", build([], [t("a", [1, 1, 1, 1, 1], GgmlType.F32, 0)], 64)],
      ["power of two", build([kv.u32("general.alignment", 24)], [], 0)],
      ["uint32", build([kv.f32("general.alignment", 32)], [], 0)],
      ["architecture", encodeGgufHeader([], [])],
    ];
    for (const [what, bytes] of cases) {
      const e = thrown(() => parseGgufBuffer(bytes, "mem.gguf"));
      expect([what, e.code]).toEqual([what, "model_corrupt"]);
      expect(e.message).toContain(what);
      expect(e.message).toContain("mem.gguf");
    }
    // the data check is exact: one byte short of the last tensor's end is truncated
    const ok = build([], [t("a", [8], GgmlType.F32, 0), t("b", [64], GgmlType.Q8_0, 32)], 32 + 68);
    expect(parseGgufBuffer(ok).dataSize).toBe(32 + 68);
    expect(thrown(() => parseGgufBuffer(ok.subarray(0, ok.length - 1)))).toBeInstanceOf(GgufTruncatedError);
  });
});

/** Parse must succeed or throw a GgufError that is not the reader's internal-failure safety net. */
function parsesOrFailsCleanly(bytes: Uint8Array): void {
  try {
    parseGgufBuffer(bytes);
  } catch (e) {
    if (!(e instanceof GgufError) || e.cause !== undefined) throw e;
  }
}

describe("fuzz", () => {
  const mutations = (limit: number) =>
    fc.array(fc.tuple(fc.nat({ max: limit - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });

  test("byte mutations of the real header only throw GgufErrors", () => {
    for (const limit of [4096, 16384]) {
      fc.assert(
        fc.property(mutations(limit), (muts) => {
          const copy = real.slice();
          for (const [at, b] of muts) copy[at] = b;
          parsesOrFailsCleanly(copy);
        }),
        { numRuns: 400 },
      );
    }
  });

  test("random bytes, with and without a GGUF v3 prefix, only throw GgufErrors", () => {
    const prefix = [0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (bytes, withPrefix) => {
        parsesOrFailsCleanly(withPrefix ? new Uint8Array([...prefix, ...bytes]) : bytes);
      }),
      { numRuns: 1000 },
    );
  });

  test("mutated files on disk only reject with GgufErrors", async () => {
    await fc.assert(
      fc.asyncProperty(mutations(16384), fc.nat({ max: real.length }), async (muts, cut) => {
        const copy = real.slice(0, cut);
        for (const [at, b] of muts) if (at < copy.length) copy[at] = b;
        try {
          await readGgufHeader(await tempFile(copy));
        } catch (e) {
          if (!(e instanceof GgufError) || e.cause !== undefined) throw e;
        }
      }),
      { numRuns: 40 },
    );
  });
});

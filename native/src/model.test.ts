// Bad model files and resources give named errors; the process never crashes; dispose is idempotent.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuEngine, STORIES_MODEL, storiesModel } from "../test/fixtures.ts";
import { DisposedError, ModelLoadError, OutOfMemoryError, UnsupportedArchitectureError } from "./errors.ts";
import { GgufCorruptError, GgufNotAGgufError, GgufNotFoundError, GgufTruncatedError } from "./gguf/errors.ts";

// loads models and spawns processes: a minute each on a busy 2-core machine
setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "gogrid-model-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const original = readFileSync(STORIES_MODEL);

function variant(name: string, bytes: Uint8Array): string {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

/** The stories model with the bytes of one metadata value replaced (same length). */
function patched(name: string, search: string, replace: string): string {
  const bytes = Buffer.from(original);
  const at = bytes.indexOf(Buffer.from(search, "latin1"));
  if (at < 0) throw new Error(`${search} not in the model`);
  bytes.write(replace, at, "latin1");
  return variant(name, bytes);
}

describe("bad model files", () => {
  test("a missing file", async () => {
    const engine = await cpuEngine();
    await expect(engine.loadModel(join(work, "nope.gguf"))).rejects.toBeInstanceOf(GgufNotFoundError);
  });

  test("a file that is not a GGUF", async () => {
    const engine = await cpuEngine();
    const path = variant("page.gguf", Buffer.from("<!DOCTYPE html><html>404 Not Found</html>"));
    const err = await engine.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(GgufNotAGgufError);
    expect(err.code).toBe("model_not_gguf");
    expect(err.message).toContain(path);
  });

  test("a truncated download", async () => {
    const engine = await cpuEngine();
    for (const cut of [10, 2000, original.length - 1000]) {
      const err = await engine.loadModel(variant(`cut-${cut}.gguf`, original.subarray(0, cut))).catch((e) => e);
      expect(err).toBeInstanceOf(GgufTruncatedError);
    }
  });

  test("a corrupt header", async () => {
    const engine = await cpuEngine();
    const bytes = Buffer.from(original);
    bytes.writeBigUInt64LE(0xffffffffffffn, 8); // tensor count
    await expect(engine.loadModel(variant("corrupt.gguf", bytes))).rejects.toBeInstanceOf(GgufCorruptError);
  });

  test("an architecture llama.cpp does not know", async () => {
    const engine = await cpuEngine();
    const key = "general.architecture\x08\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00";
    const path = patched("arch.gguf", `${key}llama`, `${key}zzzzz`);
    const err = await engine.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedArchitectureError);
    expect(err.message).toContain('"zzzzz"');
  });

  test("metadata that contradicts the tensors", async () => {
    const engine = await cpuEngine();
    // llama.embedding_length 64 → 65: the tensor shapes no longer match
    const path = patched("shape.gguf", "llama.embedding_length\x04\x00\x00\x00\x40", "llama.embedding_length\x04\x00\x00\x00\x41");
    const err = await engine.loadModel(path).catch((e) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect(err.message).toMatch(/shape|tensor/i);
  });
});

describe("resources and lifetime", () => {
  test("a context too large for memory is an OutOfMemoryError", async () => {
    const model = await storiesModel();
    const err = (() => {
      try {
        model.createContext({ contextSize: 1_000_000_000 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OutOfMemoryError);
    // and the model still works
    const ctx = model.createContext({ contextSize: 64 });
    expect((await ctx.generate("Once", { temperature: 0, maxTokens: 3 }).result).generatedTokens).toBe(3);
    ctx.dispose();
  });

  test("dispose twice is harmless; use after dispose is a named error", async () => {
    const engine = await cpuEngine();
    const model = await engine.loadModel(STORIES_MODEL);
    const ctx = model.createContext({ contextSize: 64 });
    const running = ctx.generate("Once upon a time", { temperature: 0, maxTokens: 500, ignoreEos: true });
    model.dispose(); // also disposes the context, cancelling what runs on it
    model.dispose();
    ctx.dispose();
    expect((await running.result).finishReason).toBe("cancelled");
    expect(() => model.tokenize("x")).toThrow(DisposedError);
    expect(() => ctx.generate("x")).toThrow(DisposedError);
    expect(() => model.createContext()).toThrow(DisposedError);
  });

  test("llama.cpp's log reaches the sink at the chosen level, and nothing below it", async () => {
    const engine = await cpuEngine();
    const lines: string[] = [];
    engine.backend.setLogSink((level, message) => lines.push(`${level}: ${message}`), "warn");
    const model = await engine.loadModel(STORIES_MODEL);
    model.dispose();
    engine.backend.setLogSink(null, "silent");
    // stories260K has no separator/padding token ids, which llama.cpp warns about
    expect(lines.some((l) => l.startsWith("warn: ") && l.includes("bad special token"))).toBe(true);
    expect(lines.every((l) => l.startsWith("warn: ") || l.startsWith("error: "))).toBe(true);
    const quiet: string[] = [];
    engine.backend.setLogSink((_level, message) => quiet.push(message), "error");
    (await engine.loadModel(STORIES_MODEL)).dispose();
    engine.backend.setLogSink(null, "silent");
    expect(quiet).toEqual([]);
  });
});

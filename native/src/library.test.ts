// Library resolution: override, platform packages, and extraction of embedded copies.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibraryNotFoundError } from "./errors.ts";
import { type EmbeddedAsset, extractAssets, findLibraryVariants, libraryFiles, platformVariants } from "./library.ts";

const work = mkdtempSync(join(tmpdir(), "gogrid-lib-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("findLibraryVariants", () => {
  test("on linux-x64 the installed packages come most capable first, CPU last", () => {
    const names = findLibraryVariants({}).map((v) => v.name);
    expect(names.at(-1)).toBe(platformVariants().at(-1)?.name as string);
    if (process.platform === "linux" && process.arch === "x64") {
      expect(names).toEqual(["linux-x64-cuda", "linux-x64-cuda-ext", "linux-x64-vulkan", "linux-x64"]);
    }
    for (const v of findLibraryVariants({})) {
      expect(statSync(v.llamaPath).isFile()).toBe(true);
      expect(statSync(v.ggmlPath).isFile()).toBe(true);
    }
  });

  test("GOGRID_LLAMA_LIB_DIR replaces the search", () => {
    const cpu = findLibraryVariants({}).at(-1);
    const [only, ...rest] = findLibraryVariants({ GOGRID_LLAMA_LIB_DIR: cpu?.dir });
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ name: "override", backend: "cpu", dir: cpu?.dir });
  });

  test("an override that holds no build is a named error", () => {
    expect(() => findLibraryVariants({ GOGRID_LLAMA_LIB_DIR: work })).toThrow(LibraryNotFoundError);
    expect(() => findLibraryVariants({ GOGRID_LLAMA_LIB_DIR: join(work, "nope") })).toThrow(/GOGRID_LLAMA_LIB_DIR/);
  });

  test("library file names of every platform are recognised", () => {
    for (const [llama, ggml] of [
      ["libllama.v0.4.0.so", "libggml.v0.4.0.so"],
      ["libllama.cuda.v0.4.0.so", "libggml.cuda.v0.4.0.so"],
      ["libllama.dylib", "libggml.dylib"],
      ["llama.dll", "ggml.dll"],
    ]) {
      const dir = mkdtempSync(join(work, "names-"));
      for (const f of [llama, ggml, "libllama-common.so", "libggml-base.so", "libggml-cpu-haswell.so"])
        writeFileSync(join(dir, f as string), "");
      expect(libraryFiles(dir)).toEqual({ llamaPath: join(dir, llama as string), ggmlPath: join(dir, ggml as string) });
    }
  });
});

describe("extractAssets", () => {
  const src = join(work, "embedded.bin");
  writeFileSync(src, "pretend this is libllama");
  const sha = createHash("sha256").update(readFileSync(src)).digest("hex");
  const assets: EmbeddedAsset[] = [{ name: "linux-x64/libllama.so", path: src, sha256: sha }];

  test("writes once into a versioned folder, then reuses it", () => {
    const root = join(work, "cache");
    const dir = extractAssets(assets, root);
    expect(dir).toContain("native-3.21.1-");
    const out = join(dir, "linux-x64/libllama.so");
    const first = statSync(out).mtimeMs;
    Bun.sleepSync(20);
    expect(extractAssets(assets, root)).toBe(dir);
    expect(statSync(out).mtimeMs).toBe(first);
  });

  test("a damaged extracted copy is replaced", () => {
    const root = join(work, "cache2");
    const dir = extractAssets(assets, root);
    writeFileSync(join(dir, "linux-x64/libllama.so"), "tampered");
    extractAssets(assets, root);
    expect(readFileSync(join(dir, "linux-x64/libllama.so"), "utf8")).toBe("pretend this is libllama");
  });

  test("a damaged embedded copy is refused", () => {
    expect(() => extractAssets([{ ...assets[0], sha256: "0".repeat(64) } as EmbeddedAsset], join(work, "cache3"))).toThrow(/damaged/);
  });
});

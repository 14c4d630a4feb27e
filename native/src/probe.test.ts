// Backend choice: GPU builds only after a real decode in a child; a crashing build falls back.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ggmlSymbols, llamaSymbols } from "./ffi.ts";
import { findLibraryVariants, type LibraryVariant } from "./library.ts";
import { chooseVariant, type ProbeResult, probeInChild } from "./probe.ts";

// loads models and spawns processes: a minute each on a busy 2-core machine
setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "gogrid-probe-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cpu = findLibraryVariants().find((v) => v.backend === "cpu") as LibraryVariant;

/**
 * A fake "CUDA" build that behaves like the 3.21.1 CUDA prebuilt on an H100 with an older
 * driver: every symbol is there, it loads and reports a GPU, and it aborts at the first decode.
 */
function crashingBuild(): LibraryVariant {
  const dir = join(work, "fake-cuda");
  mkdirSync(dir, { recursive: true });
  const stubs: string[] = ["#include <stdlib.h>", "#include <string.h>"];
  const special: Record<string, string> = {
    llama_decode: "int llama_decode(void){ abort(); }",
    llama_model_load_from_file: "void* llama_model_load_from_file(void){ return (void*)16; }",
    llama_init_from_model: "void* llama_init_from_model(void){ return (void*)16; }",
    llama_model_default_params:
      "struct mp { char b[80]; }; struct mp llama_model_default_params(void){ struct mp p; memset(&p,0,sizeof p); return p; }",
    llama_context_default_params:
      "struct cp { char b[160]; }; struct cp llama_context_default_params(void){ struct cp p; memset(&p,0,sizeof p); return p; }",
    llama_sampler_chain_init: "void* llama_sampler_chain_init(void){ return (void*)16; }",
    llama_sampler_sample: "int llama_sampler_sample(void){ return 1; }",
    llama_vocab_n_tokens: "int llama_vocab_n_tokens(void){ return 512; }",
    llama_model_n_ctx_train: "int llama_model_n_ctx_train(void){ return 512; }",
    llama_n_ctx_seq: "unsigned llama_n_ctx_seq(void){ return 64; }",
    llama_n_batch: "unsigned llama_n_batch(void){ return 64; }",
    llama_model_meta_val_str: "int llama_model_meta_val_str(void){ return -1; }",
    llama_print_system_info: 'const char* llama_print_system_info(void){ return "fake"; }',
    ggml_backend_dev_count: "unsigned long ggml_backend_dev_count(void){ return 1; }",
    ggml_backend_dev_get: "void* ggml_backend_dev_get(void){ return (void*)16; }",
    ggml_backend_dev_type: "int ggml_backend_dev_type(void){ return 1; }",
    ggml_backend_dev_name: 'const char* ggml_backend_dev_name(void){ return "CUDA0"; }',
    ggml_backend_dev_description: 'const char* ggml_backend_dev_description(void){ return "Fake H100"; }',
    ggml_backend_reg_name: 'const char* ggml_backend_reg_name(void){ return "CUDA"; }',
  };
  for (const name of [...Object.keys(llamaSymbols), ...Object.keys(ggmlSymbols)]) {
    stubs.push(special[name] ?? `long ${name}(void){ return 0; }`);
  }
  const src = join(dir, "fake.c");
  writeFileSync(src, stubs.join("\n"));
  const llamaPath = join(dir, "libllama.cuda.v0.4.0.so");
  const ggmlPath = join(dir, "libggml.cuda.v0.4.0.so");
  for (const out of [llamaPath, ggmlPath]) {
    const r = Bun.spawnSync(["cc", "-shared", "-fPIC", "-o", out, src], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`building the fake library needs a C compiler (cc): ${r.stderr}`);
  }
  writeFileSync(join(dir, "libggml-cuda.so"), "");
  return { name: "fake-cuda", backend: "cuda", dir, llamaPath, ggmlPath };
}

describe("chooseVariant", () => {
  const gpu = (name: string, backend: LibraryVariant["backend"]): LibraryVariant => ({ ...cpu, name, backend });
  const result = (ok: boolean, reason = ""): ProbeResult => ({ ok, reason, devices: [], ms: 1 });

  test("falls back CUDA → CUDA-ext → Vulkan → CPU and says why", async () => {
    const probed: string[] = [];
    const choice = await chooseVariant([gpu("cuda", "cuda"), gpu("cuda-ext", "cuda"), gpu("vulkan", "vulkan"), cpu], async (v) => {
      probed.push(v.name);
      return result(false, `${v.name} failed`);
    });
    expect(probed).toEqual(["cuda", "cuda-ext", "vulkan"]);
    expect(choice?.variant.name).toBe(cpu.name);
    expect(choice?.tried.map((t) => [t.name, t.ok, t.reason])).toEqual([
      ["cuda", false, "cuda failed"],
      ["cuda-ext", false, "cuda-ext failed"],
      ["vulkan", false, "vulkan failed"],
      [cpu.name, true, "CPU build needs no probe"],
    ]);
  });

  test("stops at the first build whose probe decodes", async () => {
    const choice = await chooseVariant([gpu("cuda", "cuda"), gpu("vulkan", "vulkan"), cpu], async (v) => result(v.name === "vulkan"));
    expect(choice?.variant.name).toBe("vulkan");
  });

  test("a preferred backend skips the others; none left gives null", async () => {
    const choice = await chooseVariant([gpu("cuda", "cuda"), cpu], async () => result(true), "cpu");
    expect(choice?.variant.name).toBe(cpu.name);
    expect(await chooseVariant([cpu], async () => result(true), "vulkan")).toBeNull();
  });

  test("when no build is usable, the caller's list still says why each was passed over", async () => {
    const tried: { name: string; backend: string; ok: boolean; reason: string }[] = [];
    const choice = await chooseVariant([gpu("vulkan", "vulkan"), cpu], async () => result(false, "found no GPU device"), "vulkan", tried);
    expect(choice).toBeNull();
    expect(tried.map((t) => [t.name, t.ok, t.reason])).toEqual([
      ["vulkan", false, "found no GPU device"],
      [cpu.name, false, "skipped: GOGRID_BACKEND=vulkan"],
    ]);
  });
});

describe("probeInChild", () => {
  test("a build that aborts at the first decode is refused, and this process lives on", async () => {
    const fake = crashingBuild();
    const r = await probeInChild(fake, 60_000);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("SIGABRT");
    const choice = await chooseVariant([fake, cpu], (v) => probeInChild(v, 60_000));
    expect(choice?.variant.backend).toBe("cpu");
    expect(choice?.tried[0]?.reason).toContain("SIGABRT");
  });

  test("the CPU build probed anyway loads but has no GPU, which is said plainly", async () => {
    const r = await probeInChild(cpu, 60_000);
    expect(r.ok).toBe(false);
    expect(r.reason).toBe("the build loaded but found no GPU device");
    expect(r.devices.map((d) => d.type)).toContain("cpu");
  });

  test("a folder without a build is refused", async () => {
    const r = await probeInChild({ ...cpu, dir: work }, 60_000);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("no llama.cpp build");
  });
});

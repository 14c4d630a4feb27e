// scripts/build-cuda.ts: the CMake arguments of GoGrid's own CUDA build and its bad-flag messages.
// (The build itself needs the CUDA toolkit with cuBLAS; it ran on an H200: bench/gpu/README.md.)
import { expect, test } from "bun:test";
import { join } from "node:path";
import { checkArchs, cmakeArgs, DEFAULT_ARCHS, shippedNames } from "./build-cuda.ts";

test("architectures: the default list and single ones pass; anything else is named", () => {
  expect(checkArchs(DEFAULT_ARCHS)).toBeNull();
  expect(checkArchs("90")).toBeNull();
  expect(checkArchs("90a-real")).toBeNull();
  expect(checkArchs("90;sm_80")).toContain('"sm_80"');
  expect(checkArchs("")).not.toBeNull();
});

test("cmake arguments: CUDA on, the libraries only, $ORIGIN lookups; all = loadable CPU variants, native = linked", () => {
  const all = cmakeArgs({ source: "/s", build: "/b", archs: "75-real;90-virtual", cpu: "all" });
  for (const want of [
    "-DGGML_CUDA=ON",
    "-DCMAKE_CUDA_ARCHITECTURES=75-real;90-virtual",
    "-DBUILD_SHARED_LIBS=ON",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
    "-DCMAKE_INSTALL_RPATH=$ORIGIN",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DGGML_NATIVE=OFF",
  ]) {
    expect(all).toContain(want);
  }
  const native = cmakeArgs({ source: "/s", build: "/b", archs: "90", cpu: "native", extra: ["-DX=1"] });
  expect(native).toContain("-DGGML_BACKEND_DL=OFF"); // ggml refuses a native CPU build as a module
  expect(native).toContain("-DGGML_NATIVE=ON");
  expect(native.at(-1)).toBe("-DX=1");
});

test("shipped files: one per library, the unversioned names the libraries ask each other for", () => {
  const bin = ["libllama.so", "libllama.so.0", "libllama.so.0.0.1", "libggml-cuda.so", "libggml.so", "llama-cli", "libggml-base.so.0.9.4"];
  expect(shippedNames(bin)).toEqual(["libggml-cuda.so", "libggml.so", "libllama.so"]);
  expect(cmakeArgs({ source: "/s", build: "/b", archs: "90", cpu: "all" })).toContain("-DCMAKE_PLATFORM_NO_VERSIONED_SONAME=ON");
});

test("bad flags exit 2 naming the value, before anything is built", async () => {
  const script = join(import.meta.dir, "build-cuda.ts");
  for (const [args, said] of [
    [["--archs", "sm90"], '"sm90"'],
    [["--cpu", "fast"], '"fast"'],
    [["--jobs", "0"], '"0"'],
    [["--cmake-arg=-DGGML_CUDA_FA=OFF", "--archs", "9x"], '"9x"'], // a -D value parses when written with =
  ] as const) {
    const p = Bun.spawn(["bun", script, ...args], { stdout: "pipe", stderr: "pipe" });
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(2);
    expect(err).toContain(said);
  }
});

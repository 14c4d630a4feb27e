// Builds GoGrid's own CUDA variant of llama.cpp from the release our prebuilt libraries come from.
//
// Why: the @node-llama-cpp/linux-x64-cuda 3.21.1 prebuilt carries sm_90 only as PTX from a newer
// toolchain than CUDA 13.0 drivers accept (it loads, then aborts at the first decode on an H100 with
// driver 580.159), so on such machines the probe falls back to Vulkan. This builds the same llama.cpp
// release (node-llama-cpp's llama/gitRelease.bundle, the source of our headers) with the local nvcc
// for real machine code on every architecture named, plus PTX for the newest, into one folder laid
// out like a prebuilt package (GOGRID_LLAMA_LIB_DIR=<out> runs it; bench:engine/bench:batch
// `--backend cuda` measure it). Needs cmake, ninja or make, a C++ compiler, and the CUDA toolkit
// with cuBLAS. `bun scripts/build-cuda.ts --help`.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { findBundle } from "./llama-bundle.ts";

/** Turing to Hopper as machine code, plus PTX of Hopper so later GPUs can JIT it. */
export const DEFAULT_ARCHS = "75-real;80-real;86-real;89-real;90-real;90-virtual";

const OPTIONS = {
  archs: { type: "string", default: DEFAULT_ARCHS, description: "CMAKE_CUDA_ARCHITECTURES" },
  out: { type: "string", default: "dist/native/linux-x64-cuda-gogrid", description: "folder for the libraries" },
  source: { type: "string", description: "llama.cpp source folder (default: a clone of node-llama-cpp's gitRelease.bundle)" },
  "build-dir": { type: "string", description: "CMake build folder (default: a temporary one, removed after)" },
  cpu: { type: "string", default: "all", description: "CPU backends: all (every x86-64 variant, for release) | native (this CPU only)" },
  jobs: { type: "string", default: String(availableParallelism()), description: "parallel compile jobs" },
  "cmake-arg": { type: "string", multiple: true, description: "extra cmake argument, written --cmake-arg=-DNAME=VALUE (repeatable)" },
  help: { type: "boolean", short: "h", default: false, description: "show this help" },
} as const;

function fail(message: string): never {
  console.error(`build-cuda: ${message}`);
  process.exit(2);
}

/** The cmake configure arguments for a release-like shared build (no tools, no curl, no OpenMP, as the prebuilts). */
export function cmakeArgs(o: { source: string; build: string; archs: string; cpu: "all" | "native"; extra?: string[] }): string[] {
  return [
    "-S",
    o.source,
    "-B",
    o.build,
    ...(Bun.which("ninja") ? ["-G", "Ninja"] : []),
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=ON",
    "-DGGML_CUDA=ON",
    `-DCMAKE_CUDA_ARCHITECTURES=${o.archs}`,
    // all: backends as loadable modules (one libggml-cpu-<variant> per x86-64 level, as the
    // prebuilts); native: ggml cannot load a native CPU build as a module, so everything is linked
    ...(o.cpu === "all"
      ? ["-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON", "-DGGML_NATIVE=OFF"]
      : ["-DGGML_BACKEND_DL=OFF", "-DGGML_NATIVE=ON"]),
    "-DGGML_OPENMP=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_COMMON=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    // one file per library, named as the others ask for it: unversioned sonames (no libllama.so.0 →
    // libllama.so.0.4.0 links, which an embedded copy would turn into two libraries loaded twice)
    "-DCMAKE_PLATFORM_NO_VERSIONED_SONAME=ON",
    // found beside each other, as the prebuilt packages are ($ORIGIN), the CUDA runtime from the system
    "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON",
    "-DCMAKE_INSTALL_RPATH=$ORIGIN",
    ...(o.extra ?? []),
  ];
}

/** Validates a CMAKE_CUDA_ARCHITECTURES list such as "75-real;90-real;90-virtual" or "90". */
export function checkArchs(archs: string): string | null {
  const parts = archs.split(";");
  for (const p of parts)
    if (!/^\d{2,3}[a-z]?(-real|-virtual)?$/.test(p)) return `"${p}" is not a CUDA architecture (e.g. 86-real, 90-virtual)`;
  return null;
}

/**
 * The files the folder gets: every `lib*.so`. The build makes unversioned sonames, so these are
 * the names the libraries ask for each other by; a versioned file (`lib*.so.N…`) would only be a
 * second copy of one of them.
 */
export function shippedNames(names: string[]): string[] {
  return names.filter((f) => /^lib.+\.so$/.test(f)).sort();
}

function run(cmd: string[], cwd?: string): void {
  console.error(`build-cuda: ${cmd.join(" ")}`);
  const p = Bun.spawnSync(cmd, { cwd, stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0) fail(`${cmd[0]} exited with ${p.exitCode}`);
}

function bundleSource(): string {
  const bundle = findBundle();
  if (!bundle)
    fail("node-llama-cpp (dev dependency) is not installed, so its llama.cpp bundle is missing: run bun install, or give --source");
  const dir = mkdtempSync(join(tmpdir(), "gogrid-llama-src-"));
  run(["git", "clone", "--quiet", bundle, dir]);
  return dir;
}

if (import.meta.main) {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: Bun.argv.slice(2), options: OPTIONS, strict: true }));
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    console.log("usage: bun scripts/build-cuda.ts [--archs LIST] [--out DIR] [--source DIR] [--cpu all|native]");
    for (const [k, o] of Object.entries(OPTIONS))
      console.log(`  --${k.padEnd(10)} ${o.description}${"default" in o ? ` (default ${o.default})` : ""}`);
    process.exit(0);
  }
  const archs = String(values.archs);
  const bad = checkArchs(archs);
  if (bad) fail(`--archs: ${bad}`);
  const cpu = String(values.cpu);
  if (cpu !== "all" && cpu !== "native") fail(`--cpu must be all or native, got "${cpu}"`);
  const jobs = Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) fail(`--jobs must be an integer ≥ 1, got "${values.jobs}"`);
  for (const tool of ["cmake", "nvcc"]) if (!Bun.which(tool)) fail(`${tool} is not on PATH`);
  const source = values.source ? resolve(String(values.source)) : bundleSource();
  if (!existsSync(join(source, "ggml", "src", "ggml-cuda"))) fail(`${source} is not a llama.cpp source folder`);
  const build = values["build-dir"] ? resolve(String(values["build-dir"])) : mkdtempSync(join(tmpdir(), "gogrid-cuda-build-"));
  // the temporary source and build folders go however this ends (a failed step exits through fail())
  process.on("exit", () => {
    if (!values.source) rmSync(source, { recursive: true, force: true });
    if (!values["build-dir"]) rmSync(build, { recursive: true, force: true });
  });
  const out = resolve(String(values.out));
  // --out is emptied: refuse a folder that holds anything but an earlier build
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, "_gogridBuild.json"))) {
    fail(`--out ${out} is not empty and holds no earlier build (_gogridBuild.json): choose another folder`);
  }
  const t0 = performance.now();
  run(["cmake", ...cmakeArgs({ source, build, archs, cpu, extra: (values["cmake-arg"] as string[] | undefined) ?? [] })]);
  // every target: with --cpu all the backends are modules nothing links, so `--target llama` would skip them
  run(["cmake", "--build", build, "--config", "Release", "-j", String(jobs)]);
  const bin = join(build, "bin");
  const libs = shippedNames(readdirSync(bin));
  if (!libs.includes("libggml-cuda.so")) fail(`the build made no libggml-cuda.so in ${bin}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of libs) cpSync(join(bin, f), join(out, f), { dereference: true });
  const nvcc = Bun.spawnSync(["nvcc", "--version"]).stdout.toString().trim().split("\n").pop() ?? "";
  const seconds = Math.round((performance.now() - t0) / 1000);
  writeFileSync(join(out, "_gogridBuild.json"), `${JSON.stringify({ archs, cpu, nvcc, seconds, libs }, null, 2)}\n`);
  console.log(`build-cuda: ${libs.length} libraries in ${out} (${seconds} s; archs ${archs}; ${nvcc})`);
}

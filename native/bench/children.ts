// The two child engines: the C loop (compiled here against GoGrid's libllama) and node-llama-cpp under node.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LibraryVariant } from "../src/library.ts";
import { findIncludeDirs } from "../src/library.ts";
import { BenchRunError, ChildRunner } from "./runner.ts";

const SOURCE = join(import.meta.dir, "c-loop.c");

/** The libraries to link: libllama, libggml, and libggml-base (ggml_log_set) when the build has it apart. */
function linkInputs(variant: LibraryVariant): string[] {
  const libs = [variant.llamaPath, variant.ggmlPath];
  for (const name of ["libggml-base.so", "libggml-base.dylib"]) {
    const p = join(variant.dir, name);
    if (existsSync(p)) libs.push(p);
  }
  return libs;
}

/** Returns the path of the compiled C loop, building it when its source, headers or libraries changed. */
export async function buildCLoop(variant: LibraryVariant): Promise<string> {
  if (process.platform === "win32") throw new BenchRunError("not_available", "the C loop build is written for cc on Linux/macOS");
  const includes = findIncludeDirs();
  const libs = linkInputs(variant);
  const cc = process.env.CC || "cc";
  const hash = createHash("sha256")
    .update(readFileSync(SOURCE))
    .update(readFileSync(join(includes[0] as string, "llama.h")))
    .update([cc, ...libs].join("\n"))
    .digest("hex")
    .slice(0, 16);
  const dir = join(tmpdir(), "gogrid-bench");
  const out = join(dir, `c-loop-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const rpath = `-Wl,-rpath,${variant.dir}`;
  const args = [
    cc,
    "-O2",
    "-std=c11",
    "-D_POSIX_C_SOURCE=200809L",
    "-o",
    `${out}.tmp`,
    SOURCE,
    ...includes.map((d) => `-I${d}`),
    ...libs,
    rpath,
  ];
  const proc = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) {
    throw new BenchRunError(
      "compile_failed",
      `${cc} failed (${proc.exitCode}): ${proc.stderr.toString().trim().split("\n").slice(0, 6).join(" | ")}`,
    );
  }
  const mv = Bun.spawnSync(["mv", "-f", `${out}.tmp`, out]);
  if (mv.exitCode !== 0) throw new BenchRunError("compile_failed", `could not move the C loop into ${out}`);
  return out;
}

export interface LoopSpec {
  modelPath: string;
  threads: number;
  contextSize: number;
  decodeTokens: number;
  prompt: Int32Array;
  /** Batched decoding of this many sequences (default 1); each gets `prompts[i]`, or `prompt` when absent. */
  sequences?: number;
  prompts?: Int32Array[];
  /** One KV buffer for all sequences (llama.cpp kv_unified), as GoGrid's `kvUnified`. */
  kvUnified?: boolean;
}

/** Layers the C loop offloads: all on a GPU build (as GoGrid's default), none on a CPU one. */
export function loopGpuLayers(variant: LibraryVariant): number {
  return variant.backend === "cpu" ? 0 : -1;
}

/**
 * Starts the compiled C loop in its stdin-driven mode (one repetition per "run" line); with
 * `threadpool`, a persistent ggml threadpool is attached to its context.
 */
export function startCLoop(binary: string, variant: LibraryVariant, s: LoopSpec, threadpool: boolean): Promise<ChildRunner> {
  const tokens = (s.prompts ?? [s.prompt]).map((p) => Array.from(p).join(",")).join(";");
  const cmd = [
    binary,
    s.modelPath,
    variant.dir,
    String(s.threads),
    String(s.contextSize),
    String(s.decodeTokens),
    tokens,
    "0",
    threadpool ? "1" : "0",
    String(s.sequences ?? 1),
    String(loopGpuLayers(variant)),
    s.kvUnified ? "1" : "0",
  ];
  return ChildRunner.start(threadpool ? "C loop + threadpool" : "C loop", cmd, 300_000);
}

/** Starts node-llama-cpp under node (how its users run it), with the same model, threads and prompt. */
export function startNodeLlamaCpp(s: LoopSpec): Promise<ChildRunner> {
  const node = process.env.GOGRID_BENCH_NODE || "node";
  if (!Bun.which(node)) return Promise.reject(new BenchRunError("not_available", `"${node}" is not on PATH (set GOGRID_BENCH_NODE)`));
  const script = join(import.meta.dir, "nlc-runner.mjs");
  const cmd = [node, script, s.modelPath, String(s.threads), String(s.contextSize), String(s.decodeTokens), Array.from(s.prompt).join(",")];
  return ChildRunner.start("node-llama-cpp", cmd, 300_000);
}

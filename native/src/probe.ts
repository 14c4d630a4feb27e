// Backend probing: each GPU build runs a real tiny decode in a child process before we trust it.
//
// A bad driver can abort the process at the first decode (the CUDA prebuilt does exactly that on
// an H100 with an older driver), so the worker never loads a GPU build in-process until a child
// has loaded it, offloaded a model and decoded with it. CPU builds need no probe.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceleratorNames, type DeviceInfo, LlamaBackend } from "./backend.ts";
import { isCompiledBinary } from "./compiled.ts";
import { writeTinyModel } from "./gguf/writer.ts";
import { type LibraryVariant, libraryFiles } from "./library.ts";
import { LlamaModel } from "./model.ts";

export interface ProbeResult {
  ok: boolean;
  /** Why it was refused (or "" when ok). */
  reason: string;
  devices: DeviceInfo[];
  ms: number;
}

export type Prober = (variant: LibraryVariant) => Promise<ProbeResult>;

export const PROBE_COMMAND = "__probe-backend";

function probeCommand(dir: string): string[] {
  if (isCompiledBinary()) return [process.execPath, PROBE_COMMAND, dir];
  return [process.execPath, join(import.meta.dir, "probe-child.ts"), dir];
}

function signalName(code: number | null, signal: NodeJS.Signals | number | null): string {
  if (signal !== null) return `was killed by ${signal}`;
  return `exited with status ${code}`;
}

/** Runs the probe for one variant in a child process; never throws. */
export async function probeInChild(variant: LibraryVariant, timeoutMs = 120_000): Promise<ProbeResult> {
  const t0 = performance.now();
  const proc = Bun.spawn(probeCommand(variant.dir), {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, GOGRID_LLAMA_LIB_DIR: variant.dir },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(timer);
  const ms = performance.now() - t0;
  const last = out.trim().split("\n").pop() ?? "";
  if (proc.exitCode === 0) {
    try {
      const parsed = JSON.parse(last) as { ok: boolean; reason?: string; devices?: DeviceInfo[] };
      return { ok: parsed.ok, reason: parsed.reason ?? "", devices: parsed.devices ?? [], ms };
    } catch {
      return { ok: false, reason: `probe printed no result (${last.slice(0, 200)})`, devices: [], ms };
    }
  }
  const tail = err.trim().split("\n").slice(-3).join(" | ").slice(0, 400);
  const timedOut = ms >= timeoutMs;
  return {
    ok: false,
    reason: `${timedOut ? `probe timed out after ${timeoutMs} ms and ` : ""}the probe process ${signalName(proc.exitCode, proc.signalCode)}${tail ? `: ${tail}` : ""}`,
    devices: [],
    ms,
  };
}

/** The child's side: load the build, offload a tiny model to its GPU, decode a few tokens. */
export async function runProbeChild(dir: string): Promise<void> {
  const files = libraryFiles(dir);
  if (!files) {
    console.log(JSON.stringify({ ok: false, reason: `no llama.cpp build in ${dir}` }));
    return;
  }
  const backend = LlamaBackend.open({ name: "probe", backend: "cpu", dir, ...files }, { logLevel: "silent" });
  const devices = backend.devices();
  const gpus = devices.filter((d) => d.type === "gpu" || d.type === "igpu");
  if (gpus.length === 0) {
    console.log(JSON.stringify({ ok: false, reason: "the build loaded but found no GPU device", devices }));
    return;
  }
  const work = mkdtempSync(join(tmpdir(), "gogrid-probe-"));
  try {
    const path = join(work, "probe.gguf");
    await writeTinyModel(path);
    const model = await LlamaModel.load(backend, path, { gpuLayers: -1 });
    const ctx = model.createContext({ contextSize: 64, threads: 1 });
    const r = await ctx.generate([model.bos, 10, 20, 30], { maxTokens: 4, temperature: 0, ignoreEos: true }).result;
    ctx.dispose();
    model.dispose();
    if (r.generatedTokens !== 4) {
      console.log(JSON.stringify({ ok: false, reason: `decode produced ${r.generatedTokens} of 4 tokens`, devices }));
      return;
    }
    console.log(JSON.stringify({ ok: true, devices }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface BackendChoice {
  variant: LibraryVariant;
  devices: DeviceInfo[];
  /** Every variant considered, in order, and why it was or was not used. */
  tried: { name: string; backend: string; ok: boolean; reason: string }[];
}

/**
 * Picks the first variant that works: GPU builds only after a successful probe, the CPU build
 * as it is. `prefer` restricts the choice to one backend kind.
 */
export async function chooseVariant(
  variants: LibraryVariant[],
  probe: Prober,
  prefer: string = "auto",
  /** Filled with every variant considered, also when none is chosen (for the error message). */
  tried: BackendChoice["tried"] = [],
): Promise<BackendChoice | null> {
  for (const variant of variants) {
    if (prefer !== "auto" && variant.backend !== prefer) {
      tried.push({ name: variant.name, backend: variant.backend, ok: false, reason: `skipped: GOGRID_BACKEND=${prefer}` });
      continue;
    }
    if (variant.backend === "cpu") {
      tried.push({ name: variant.name, backend: variant.backend, ok: true, reason: "CPU build needs no probe" });
      return { variant, devices: [], tried };
    }
    const r = await probe(variant);
    tried.push({
      name: variant.name,
      backend: variant.backend,
      ok: r.ok,
      reason: r.ok ? `probe decoded on ${acceleratorNames(r.devices)} in ${Math.round(r.ms)} ms` : r.reason,
    });
    if (r.ok) return { variant, devices: r.devices, tried };
  }
  return null;
}

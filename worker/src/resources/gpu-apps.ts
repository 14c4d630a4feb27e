// Other programs computing on an NVIDIA GPU, from nvidia-smi's compute-apps list (our own process left out).
import type { CommandRunner } from "./command.ts";

export interface GpuProcess {
  pid: number;
  /** MiB of VRAM it holds; null where the driver does not say (e.g. "[N/A]" under Windows WDDM). */
  usedMb: number | null;
}

export const NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"] as const;

/** Parses `pid, used_memory` lines; lines that are not two fields with a numeric pid are skipped. */
export function parseComputeApps(csv: string): GpuProcess[] {
  const out: GpuProcess[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length !== 2 || !/^\d+$/.test(fields[0] as string)) continue;
    const mb = Number(fields[1]);
    out.push({ pid: Number(fields[0]), usedMb: fields[1] !== "" && Number.isFinite(mb) ? mb : null });
  }
  return out;
}

/**
 * The compute processes on NVIDIA GPUs other than `ownPids`; null when there is no reading
 * (nvidia-smi absent, or it failed: no NVIDIA driver).
 */
export async function foreignGpuProcesses(run: CommandRunner, ownPids: ReadonlySet<number>): Promise<GpuProcess[] | null> {
  const r = await run(NVIDIA_SMI_QUERY, { timeoutMs: 5000 });
  if (r === null || r.exitCode !== 0) return null;
  return parseComputeApps(r.stdout).filter((p) => !ownPids.has(p.pid));
}

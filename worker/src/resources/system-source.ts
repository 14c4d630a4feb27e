// The sampler's default readings: /proc/stat and /proc/meminfo read directly on Linux, one nvidia-smi query for GPU load.
import { readFileSync } from "node:fs";
import { type CommandRunner, runCommand } from "./command.ts";
import type { GpuController, SystemInfoSource } from "./sampler.ts";

/** Jiffies since boot over all CPUs: busy (user, nice, system, irq, softirq, steal) and total (busy + idle + iowait). */
export interface CpuTotals {
  busy: number;
  total: number;
}

/** The aggregate `cpu` line of /proc/stat, or null when there is none (guest time is already in user). */
export function parseProcStat(text: string): CpuTotals | null {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Machine CPU % between two /proc/stat readings (0 when no time passed or the counters went back). */
export function cpuPercentBetween(prev: CpuTotals, next: CpuTotals): number {
  const total = next.total - prev.total;
  const busy = next.busy - prev.busy;
  if (total <= 0 || busy < 0) return 0;
  return Math.min(100, (busy / total) * 100);
}

/** Memory in bytes from /proc/meminfo: active = total − available (as systeminformation computes it), or null. */
export function parseMeminfo(text: string): { active: number; total: number } | null {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kb("MemTotal");
  if (total === null || total <= 0) return null;
  const available = kb("MemAvailable") ?? (kb("MemFree") ?? 0) + (kb("Buffers") ?? 0) + (kb("Cached") ?? 0);
  return { active: Math.max(0, total - available), total };
}

export const NVIDIA_SMI_GPU_QUERY = [
  "nvidia-smi",
  "--query-gpu=utilization.gpu,memory.used,memory.total",
  "--format=csv,noheader,nounits",
] as const;

/** `utilization.gpu, memory.used, memory.total` lines as controllers ("[N/A]" fields left out). */
export function parseGpuQuery(csv: string): GpuController[] {
  const out: GpuController[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length !== 3) continue;
    const [util, used, total] = fields.map((f) => (/^\d+(\.\d+)?$/.test(f) ? Number(f) : undefined));
    if (util === undefined && total === undefined) continue;
    const c: GpuController = { vendor: "NVIDIA" };
    if (util !== undefined) c.utilizationGpu = util;
    if (used !== undefined) c.memoryUsed = used;
    if (total !== undefined) c.memoryTotal = total;
    out.push(c);
  }
  return out;
}

/** GPU load from one nvidia-smi query (what systeminformation's graphics() takes its figures from, without lspci & co). */
export async function nvidiaControllers(run: CommandRunner = runCommand): Promise<{ controllers: GpuController[] }> {
  const r = await run(NVIDIA_SMI_GPU_QUERY, { timeoutMs: 5000 });
  if (r === null || r.exitCode !== 0) return { controllers: [] };
  return { controllers: parseGpuQuery(r.stdout) };
}

export interface ProcSourceOptions {
  /** Reads a /proc file (default readFileSync; tests pass fixed text). */
  read?: (path: "/proc/stat" | "/proc/meminfo") => string;
  run?: CommandRunner;
}

/** Linux: no child process per sample (systeminformation's currentLoad() runs `cat /proc/stat | grep cpu` in a shell). */
export function procSource(options: ProcSourceOptions = {}): SystemInfoSource {
  const read = options.read ?? ((path) => readFileSync(path, "latin1"));
  const run = options.run ?? runCommand;
  let prev: CpuTotals | null = null;
  return {
    async currentLoad() {
      const next = parseProcStat(read("/proc/stat"));
      if (next === null) throw new Error("/proc/stat has no aggregate cpu line");
      // like systeminformation, the first answer covers the time since boot
      const currentLoad = cpuPercentBetween(prev ?? { busy: 0, total: 0 }, next);
      prev = next;
      return { currentLoad };
    },
    async mem() {
      const m = parseMeminfo(read("/proc/meminfo"));
      if (m === null) throw new Error("/proc/meminfo has no MemTotal");
      return m;
    },
    graphics: () => nvidiaControllers(run),
  };
}

// How much CPU other processes (and the hypervisor) took while one run was timed, from /proc (Linux only).
import { readFileSync } from "node:fs";
import { cpuTicks } from "../../bench/proc-stats.ts";

/** Clock ticks per second of /proc's counters (USER_HZ, 100 on Linux). */
const HZ = 100;

/**
 * GOGRID_BENCH_NO_LOAD_CHECK=1: other processes' CPU is not watched (no quiet waits, no run counted
 * as disturbed by it). For GPU runs beside a `nice`d build on a many-core machine, where the CPU
 * noise this guards against on small VMs is not what limits the figures.
 */
const noLoadCheck = process.env.GOGRID_BENCH_NO_LOAD_CHECK === "1";

function busyTicks(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return user + nice + system + irq + softirq + steal;
  } catch {
    return null;
  }
}

/** utime + stime of all the process's threads, in ticks; 0 when unreadable. */
const processTicks = (pid: number): number => cpuTicks(pid) ?? 0;

export interface LoadSample {
  /** CPU cores' worth of work by anything but `pids` during the window (0 = quiet). */
  foreignCores: number;
  foreignMs: number;
}

/** Starts a window; call the returned function when the run ends. Null where /proc is missing. */
export function watchForeignLoad(pids: number[]): (() => LoadSample) | null {
  if (noLoadCheck) return null;
  const busy0 = busyTicks();
  if (busy0 === null) return null;
  const own0 = pids.reduce((s, p) => s + processTicks(p), 0);
  const t0 = performance.now();
  return () => {
    const wallMs = performance.now() - t0;
    const busy = (busyTicks() ?? busy0) - busy0;
    const own = pids.reduce((s, p) => s + processTicks(p), 0) - own0;
    const foreignMs = (Math.max(0, busy - own) * 1000) / HZ;
    return { foreignMs, foreignCores: wallMs > 0 ? foreignMs / wallMs : 0 };
  };
}

/**
 * Whether a run was disturbed: the counters tick every 10 ms, so a short run needs at least three
 * foreign ticks before it counts, and then a third of a core on average.
 */
export function disturbed(s: LoadSample): boolean {
  return s.foreignMs >= 30 && s.foreignCores >= 0.33;
}

/**
 * Waits (up to `maxMs`) until other processes leave the CPUs alone for one 300 ms window. With as
 * many threads as cores, ggml's spinning barriers make a run next to a busy process 10–100× slower.
 */
export async function waitForQuiet(pids: number[], maxMs: number): Promise<{ waitedMs: number; quiet: boolean }> {
  const t0 = performance.now();
  for (;;) {
    const watch = watchForeignLoad(pids);
    if (!watch) return { waitedMs: 0, quiet: true };
    await Bun.sleep(300);
    const s = watch();
    const waitedMs = performance.now() - t0;
    if (s.foreignCores < 0.25) return { waitedMs, quiet: true };
    if (waitedMs >= maxMs) return { waitedMs, quiet: false };
  }
}

// CPU time and memory of processes from /proc (Linux): what the coordinator costs while it is measured.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's counters (USER_HZ, 100 on Linux). */
const HZ = 100;

/** CPU clock ticks (user + system, all threads) the process has used so far; null when unreadable. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/** CPU seconds (user + system, all threads) the process has used so far; null when unreadable. */
export function cpuSeconds(pid: number): number | null {
  const ticks = cpuTicks(pid);
  return ticks === null ? null : ticks / HZ;
}

/** Resident set size in MiB; null when unreadable. */
export function rssMb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** A window over a process: CPU used (as % of one core) and its RSS samples. */
export interface ProcWindow {
  seconds: number;
  cpu_s: number;
  /** CPU time over wall time, in % of one core. */
  cpu_pct: number;
  rss_mb_end: number;
  rss_mb_max: number;
}

/**
 * Watches `pid` from now: samples its RSS every `sampleMs` until `stop()` is called, which
 * returns the window's figures. Null when /proc cannot be read (not Linux).
 */
export function watchProcess(pid: number, sampleMs = 250): { stop(): ProcWindow } | null {
  const cpu0 = cpuSeconds(pid);
  if (cpu0 === null) return null;
  const t0 = performance.now();
  let max = rssMb(pid) ?? 0;
  const timer = setInterval(() => {
    max = Math.max(max, rssMb(pid) ?? 0);
  }, sampleMs);
  return {
    stop() {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = (cpuSeconds(pid) ?? cpu0) - cpu0;
      const end = rssMb(pid) ?? 0;
      max = Math.max(max, end);
      return { seconds, cpu_s: cpu, cpu_pct: seconds > 0 ? (100 * cpu) / seconds : 0, rss_mb_end: end, rss_mb_max: max };
    },
  };
}

// Load readings: the LoadSampler interface and the system sampler (/proc on Linux, systeminformation elsewhere) that leaves out our own load.
import { cpus } from "node:os";
import type * as si from "systeminformation";
import { procSource } from "./system-source.ts";

/** One look at the machine. Percentages are of the whole machine (all cores, all GPUs), 0–100. */
export interface LoadReading {
  /** CPU used by everything except this process (our inference threads are subtracted). */
  readonly cpuPercent: number;
  /** Memory in active use (Linux: total − available), this process included. */
  readonly memoryPercent: number;
  /** Busiest GPU's utilisation; null when this OS/driver cannot report it. */
  readonly gpuPercent: number | null;
  readonly vramUsedMb: number | null;
  readonly vramTotalMb: number | null;
  /** When the reading was taken, ms since the epoch (the throttle's clock). */
  readonly at: number;
  /** This process's share of the machine's CPU, already taken out of `cpuPercent`. */
  readonly ownCpuPercent?: number;
  /** True when our own GPU use was subtracted from `gpuPercent` (an `ownGpuPercent` callback answered). */
  readonly gpuOwnExcluded?: boolean;
}

/** What the caller knows when it asks for a sample. */
export interface SampleHint {
  /** No job of ours runs and no load is over its threshold: slow-changing figures (GPU) may be older. */
  idle?: boolean;
}

export interface LoadSampler {
  sample(hint?: SampleHint): Promise<LoadReading>;
}

/** The systeminformation calls the sampler makes (a fake one in tests). */
export interface SystemInfoSource {
  currentLoad(): Promise<Pick<si.Systeminformation.CurrentLoadData, "currentLoad">>;
  mem(): Promise<Pick<si.Systeminformation.MemData, "active" | "total">>;
  graphics(): Promise<{ controllers: readonly GpuController[] }>;
}

export type GpuController = Pick<si.Systeminformation.GraphicsControllerData, "vendor" | "utilizationGpu" | "memoryUsed" | "memoryTotal">;

/** systeminformation, loaded on first use (Linux samples without it, so it stays out of the idle heap). */
const loadSi = () => import("systeminformation");

export const systemInfo: SystemInfoSource = {
  currentLoad: async () => (await loadSi()).currentLoad(),
  mem: async () => (await loadSi()).mem(),
  graphics: async () => (await loadSi()).graphics(),
};

export interface CpuTimes {
  /** Microseconds, as `process.cpuUsage()` reports them. */
  user: number;
  system: number;
}

/** The sampler's default source: /proc and nvidia-smi on Linux (no shell per sample), systeminformation elsewhere. */
export function defaultSource(platform: NodeJS.Platform = process.platform): SystemInfoSource {
  return platform === "linux" ? procSource() : systemInfo;
}

export interface SystemLoadSamplerOptions {
  /** Default: defaultSource(). */
  source?: SystemInfoSource;
  /**
   * Our own GPU utilisation in percent of the machine, if the engine can tell (null = it cannot).
   * Without it the GPU figure includes our own inference, so the throttle ignores the GPU while
   * one of our jobs runs (`update(reading, { ownJobRunning: true })`).
   */
  ownGpuPercent?: () => number | null;
  /** This process's CPU time (default `process.cpuUsage()`; includes native inference threads). */
  cpuUsage?: () => CpuTimes;
  /** Logical CPUs the machine's CPU percent is spread over (default `os.cpus().length`). */
  cores?: number;
  /** Epoch clock for `LoadReading.at` (default Date.now). */
  now?: () => number;
  /** Monotonic clock for CPU deltas (default performance.now). */
  monotonicMs?: () => number;
  /** Cache `graphics()` for this long, at least 5000 ms (default 5000; win32: 30000, it runs PowerShell). */
  gpuRefreshMs?: number;
  /** While the caller says idle (`sample({ idle: true })`), cache it this long instead (default 15000; win32: 60000). */
  gpuIdleRefreshMs?: number;
  /** When no controller reports load (no nvidia-smi, macOS, AMD/Intel), ask again only this often (default 300000). */
  gpuRetryMs?: number;
  /** First sample: wait this long between two CPU readings so the window is not "since boot" (default 250). */
  primeMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface GpuLoad {
  gpuPercent: number;
  vramUsedMb: number | null;
  vramTotalMb: number | null;
}

const MIN_GPU_REFRESH_MS = 5000;

export function clampPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(100, Math.max(0, value));
}

/**
 * GPU load from systeminformation controllers, or null when none reports any.
 * systeminformation only fills these from nvidia-smi (Linux, Windows), and drops zeros (it tests
 * truthiness): a controller with `memoryTotal` but no `utilizationGpu` is an idle NVIDIA GPU.
 */
export function gpuLoadFrom(controllers: readonly GpuController[]): GpuLoad | null {
  const live = controllers.filter((c) => typeof c.utilizationGpu === "number" || (typeof c.memoryTotal === "number" && c.memoryTotal > 0));
  if (live.length === 0) return null;
  let gpuPercent = 0;
  let used = 0;
  let total = 0;
  let anyTotal = false;
  for (const c of live) {
    gpuPercent = Math.max(gpuPercent, clampPercent(c.utilizationGpu ?? 0));
    if (typeof c.memoryTotal === "number" && c.memoryTotal > 0) {
      anyTotal = true;
      total += c.memoryTotal;
      used += c.memoryUsed ?? 0;
    }
  }
  return { gpuPercent, vramUsedMb: anyTotal ? Math.round(used) : null, vramTotalMb: anyTotal ? Math.round(total) : null };
}

/** Samples CPU, memory and GPU load (own CPU taken out); cheap enough to call every 2 s, GPU figures cached. */
export class SystemLoadSampler implements LoadSampler {
  readonly #source: SystemInfoSource;
  readonly #ownGpuPercent: () => number | null;
  readonly #cpuUsage: () => CpuTimes;
  readonly #cores: number;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #gpuRefreshMs: number;
  readonly #gpuIdleRefreshMs: number;
  readonly #gpuRetryMs: number;
  readonly #primeMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  #prevCpu: { times: CpuTimes; at: number } | null = null;
  #gpu: GpuLoad | null = null;
  /** Monotonic time the cached GPU figure was read (null: never asked). */
  #gpuAt: number | null = null;

  constructor(options: SystemLoadSamplerOptions = {}) {
    this.#source = options.source ?? defaultSource();
    this.#ownGpuPercent = options.ownGpuPercent ?? (() => null);
    this.#cpuUsage = options.cpuUsage ?? (() => process.cpuUsage());
    this.#cores = Math.max(1, options.cores ?? cpus().length);
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonicMs ?? (() => performance.now());
    const defaultRefresh = process.platform === "win32" ? 30_000 : MIN_GPU_REFRESH_MS;
    this.#gpuRefreshMs = Math.max(MIN_GPU_REFRESH_MS, options.gpuRefreshMs ?? defaultRefresh);
    this.#gpuIdleRefreshMs = Math.max(this.#gpuRefreshMs, options.gpuIdleRefreshMs ?? (process.platform === "win32" ? 60_000 : 15_000));
    this.#gpuRetryMs = Math.max(this.#gpuRefreshMs, options.gpuRetryMs ?? 300_000);
    this.#primeMs = options.primeMs ?? 250;
    this.#sleep = options.sleep ?? ((ms) => Bun.sleep(ms));
  }

  async sample(hint: SampleHint = {}): Promise<LoadReading> {
    if (this.#prevCpu === null) {
      // systeminformation's first currentLoad() averages since boot: open a fresh window first.
      await this.#source.currentLoad();
      this.#prevCpu = { times: this.#cpuUsage(), at: this.#mono() };
      await this.#sleep(this.#primeMs);
    }
    const load = await this.#source.currentLoad();
    const ownCpuPercent = this.#ownCpu();
    const mem = await this.#source.mem();
    const gpu = await this.#gpuLoad(hint.idle === true);
    const own = gpu === null ? null : this.#ownGpuPercent();
    const ownKnown = typeof own === "number" && Number.isFinite(own);
    return {
      cpuPercent: clampPercent(clampPercent(load.currentLoad) - ownCpuPercent),
      memoryPercent: mem.total > 0 ? clampPercent((mem.active / mem.total) * 100) : 0,
      gpuPercent: gpu === null ? null : clampPercent(gpu.gpuPercent - (ownKnown ? own : 0)),
      vramUsedMb: gpu?.vramUsedMb ?? null,
      vramTotalMb: gpu?.vramTotalMb ?? null,
      at: this.#now(),
      ownCpuPercent,
      gpuOwnExcluded: ownKnown,
    };
  }

  /** Our CPU time since the previous sample, as a percent of all cores over the same wall time. */
  #ownCpu(): number {
    const times = this.#cpuUsage();
    const at = this.#mono();
    const prev = this.#prevCpu;
    this.#prevCpu = { times, at };
    if (prev === null) return 0;
    const wallMs = at - prev.at;
    if (wallMs <= 0) return 0;
    const cpuMs = (times.user - prev.times.user + (times.system - prev.times.system)) / 1000;
    return clampPercent((cpuMs / (wallMs * this.#cores)) * 100);
  }

  async #gpuLoad(idle: boolean): Promise<GpuLoad | null> {
    const at = this.#mono();
    if (this.#gpuAt !== null) {
      const ttl = this.#gpu === null ? this.#gpuRetryMs : idle ? this.#gpuIdleRefreshMs : this.#gpuRefreshMs;
      if (at < this.#gpuAt + ttl) return this.#gpu;
    }
    try {
      const { controllers } = await this.#source.graphics();
      this.#gpu = gpuLoadFrom(controllers);
    } catch {
      this.#gpu = null;
    }
    this.#gpuAt = at;
    return this.#gpu;
  }
}

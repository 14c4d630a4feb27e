// Yielding to the contributor: another program on the GPU or a full-screen application → stop, free VRAM, resume after a quiet period.
import { type CommandRunner, runCommand } from "./command.ts";
import { type FullscreenProbe, fullscreenProbe } from "./fullscreen.ts";
import { foreignGpuProcesses, type GpuProcess } from "./gpu-apps.ts";

export type YieldCause = "gpu_app" | "fullscreen";

export interface YieldState {
  yielding: boolean;
  /** What is seen at the latest check (while yielding in the quiet period: empty). */
  causes: YieldCause[];
  /** For the tray and logs, e.g. "another program is using the GPU (pid 4242)". */
  reason: string | null;
  /** When yielding began (ms since the epoch), null when not yielding. */
  since: number | null;
}

export interface YieldOptions {
  /** [resources] yield_to_gpu_apps */
  gpuApps: boolean;
  /** [resources] yield_to_fullscreen */
  fullscreen: boolean;
  /** Seconds every cause must be gone before yielding ends ([resources] yield_quiet_secs). */
  quietSecs: number;
  /** Our process ids (default: this process): their GPU use is not "another program". */
  ownPids?: readonly number[];
  /** Runs nvidia-smi, xprop, powershell (default: the real commands). */
  run?: CommandRunner;
  /** Default: nvidia-smi's compute apps through `run`. */
  gpuProbe?: () => Promise<GpuProcess[] | null>;
  /** Default: the OS's probe through `run`; null = not detected on this OS. */
  fullscreenProbe?: FullscreenProbe | null;
  /** ms between checks while started (default 5000; Windows 10000: PowerShell is slow to start). */
  intervalMs?: number;
  now?: () => number;
}

export type YieldListener = (state: YieldState) => void;

function describe(causes: YieldCause[], foreign: GpuProcess[]): string | null {
  const parts: string[] = [];
  if (causes.includes("fullscreen")) parts.push("a full-screen application is running");
  if (causes.includes("gpu_app")) {
    const pids = foreign.slice(0, 3).map((p) => p.pid);
    parts.push(`another program is using the GPU (pid ${pids.join(", ")}${foreign.length > 3 ? ", …" : ""})`);
  }
  return parts.length ? parts.join("; ") : null;
}

export class YieldWatcher {
  readonly #gpuApps: boolean;
  readonly #ownPids: ReadonlySet<number>;
  readonly #quietMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #gpuProbe: () => Promise<GpuProcess[] | null>;
  readonly #fullscreenProbe: FullscreenProbe | null;
  readonly #listeners = new Set<YieldListener>();
  #state: YieldState = { yielding: false, causes: [], reason: null, since: null };
  /** First check that saw no cause while yielding (the quiet period counts from here). */
  #goneSince: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #generation = 0;
  #inFlight: Promise<YieldState> | null = null;
  /** Readings: whether each probe answered at its latest check (for stats). */
  readonly readings = { gpu: false, fullscreen: false };

  constructor(options: YieldOptions) {
    if (!Number.isFinite(options.quietSecs) || options.quietSecs < 0) {
      throw new RangeError(`yield_quiet_secs must be a number of seconds ≥ 0 (got ${options.quietSecs})`);
    }
    this.#gpuApps = options.gpuApps;
    this.#quietMs = options.quietSecs * 1000;
    this.#ownPids = new Set(options.ownPids ?? [process.pid]);
    this.#intervalMs = options.intervalMs ?? (process.platform === "win32" ? 10_000 : 5000);
    this.#now = options.now ?? Date.now;
    const run = options.run ?? runCommand;
    this.#gpuProbe = options.gpuProbe ?? (() => foreignGpuProcesses(run, new Set()));
    this.#fullscreenProbe = !options.fullscreen
      ? null
      : options.fullscreenProbe !== undefined
        ? options.fullscreenProbe
        : fullscreenProbe(run);
  }

  get state(): YieldState {
    return this.#state;
  }

  /** Whether full screen can be detected here (false on macOS, Linux without X, or switched off). */
  get detectsFullscreen(): boolean {
    return this.#fullscreenProbe !== null;
  }

  get enabled(): boolean {
    return this.#gpuApps || this.#fullscreenProbe !== null;
  }

  /** Looks now (joins a check already under way) and updates the state. */
  check(): Promise<YieldState> {
    this.#inFlight ??= this.#check().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  /** Checks now and then every interval until stop(); the timer is unref'd. */
  start(): void {
    if (this.#timer !== null || !this.enabled) return;
    const generation = ++this.#generation;
    const tick = async () => {
      await this.check().catch(() => {});
      if (generation !== this.#generation) return;
      this.#timer = setTimeout(() => void tick(), this.#intervalMs);
      this.#timer.unref();
    };
    this.#timer = setTimeout(() => void tick(), 0);
    this.#timer.unref();
  }

  stop(): void {
    this.#generation++;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  onChange(listener: YieldListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #check(): Promise<YieldState> {
    const causes: YieldCause[] = [];
    let foreign: GpuProcess[] = [];
    if (this.#gpuApps) {
      const apps = await this.#gpuProbe().catch(() => null);
      this.readings.gpu = apps !== null;
      foreign = (apps ?? []).filter((p) => !this.#ownPids.has(p.pid));
      if (foreign.length > 0) causes.push("gpu_app");
    }
    if (this.#fullscreenProbe) {
      const full = await this.#fullscreenProbe().catch(() => null);
      this.readings.fullscreen = full !== null;
      if (full === true) causes.push("fullscreen");
    }
    const now = this.#now();
    const prev = this.#state;
    let next: YieldState;
    if (causes.length === 0 && prev.yielding) this.#goneSince ??= now;
    if (causes.length > 0) {
      this.#goneSince = null;
      next = { yielding: true, causes, reason: describe(causes, foreign), since: prev.since ?? now };
    } else if (prev.yielding && now - (this.#goneSince ?? now) < this.#quietMs) {
      next = { ...prev, causes: [] };
    } else {
      this.#goneSince = null;
      next = { yielding: false, causes: [], reason: null, since: null };
    }
    this.#state = next;
    if (next.yielding !== prev.yielding || next.reason !== prev.reason) {
      for (const listener of [...this.#listeners]) listener(next);
    }
    return next;
  }
}

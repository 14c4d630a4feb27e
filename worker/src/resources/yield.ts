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
  /** Default: the OS's probe through `run`; null = not detected on this OS. */
  fullscreenProbe?: FullscreenProbe | null;
  /** ms between checks while busy() (default 5000; Windows 10000: PowerShell is slow to start). */
  intervalMs?: number;
  /** ms between checks otherwise (default twice the default intervalMs, or intervalMs when that is given). */
  idleIntervalMs?: number;
  /** Whether a job of ours runs or a model is loaded (default: always): only then is VRAM to free at once. */
  busy?: () => boolean;
  /** A probe with no reading (tool missing, no driver, no X) is tried again only after this long (default 60000). */
  probeRetryMs?: number;
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
  readonly #idleIntervalMs: number;
  readonly #busy: () => boolean;
  readonly #probeRetryMs: number;
  /** When each probe may run again after answering null (absent: run it). */
  readonly #retryAt: { gpu?: number; fullscreen?: number } = {};
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
    const defaultInterval = process.platform === "win32" ? 10_000 : 5000;
    this.#intervalMs = options.intervalMs ?? defaultInterval;
    this.#idleIntervalMs = Math.max(this.#intervalMs, options.idleIntervalMs ?? options.intervalMs ?? 2 * defaultInterval);
    this.#busy = options.busy ?? (() => true);
    this.#probeRetryMs = options.probeRetryMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    const run = options.run ?? runCommand;
    this.#gpuProbe = () => foreignGpuProcesses(run, this.#ownPids);
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

  /**
   * ms until the next scheduled check: intervalMs while busy(), else idleIntervalMs; when every
   * probe is waiting out probeRetryMs (no tool here) and nothing is being yielded to, the retry time.
   */
  nextIntervalMs(): number {
    const base = this.#busy() ? this.#intervalMs : this.#idleIntervalMs;
    if (this.#state.yielding) return base;
    const waits: number[] = [];
    if (this.#gpuApps) waits.push(this.#retryWaitMs("gpu"));
    if (this.#fullscreenProbe) waits.push(this.#retryWaitMs("fullscreen"));
    return waits.length ? Math.max(base, Math.min(...waits)) : base;
  }

  #retryWaitMs(name: "gpu" | "fullscreen"): number {
    const retryAt = this.#retryAt[name];
    return retryAt === undefined ? 0 : Math.min(this.#probeRetryMs, Math.max(0, retryAt - this.#now()));
  }

  /** Checks now and then every nextIntervalMs() until stop(); the timer is unref'd. */
  start(): void {
    if (this.#timer !== null || !this.enabled) return;
    const generation = ++this.#generation;
    const tick = async () => {
      await this.check().catch(() => {});
      if (generation !== this.#generation) return;
      this.#timer = setTimeout(() => void tick(), this.nextIntervalMs());
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

  /** Runs a probe unless it had no reading less than probeRetryMs ago (no process spawned for a missing tool). */
  async #probe<T>(name: "gpu" | "fullscreen", probe: () => Promise<T | null>): Promise<T | null> {
    const retryAt = this.#retryAt[name];
    // (a clock set back by more than probeRetryMs does not silence the probe for longer)
    if (retryAt !== undefined && this.#now() < retryAt && retryAt - this.#now() <= this.#probeRetryMs) return null;
    const answer = await probe().catch(() => null);
    this.readings[name] = answer !== null;
    if (answer === null) this.#retryAt[name] = this.#now() + this.#probeRetryMs;
    else delete this.#retryAt[name];
    return answer;
  }

  async #check(): Promise<YieldState> {
    const causes: YieldCause[] = [];
    let foreign: GpuProcess[] = [];
    if (this.#gpuApps) {
      const apps = await this.#probe("gpu", this.#gpuProbe);
      foreign = apps ?? [];
      if (foreign.length > 0) causes.push("gpu_app");
    }
    if (this.#fullscreenProbe) {
      const full = await this.#probe("fullscreen", this.#fullscreenProbe);
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

// ResourceMonitor: samples load on an interval, feeds the throttle, and combines it with manual pauses.
import type { HeartbeatStats, WorkerStatus } from "@gogrid/protocol";
import { type ActivePause, effectiveStatus, PauseControl } from "./control.ts";
import { ResourceConfigError } from "./errors.ts";
import { type ResourceMode, type ResourceOverrides, type Thresholds, thresholdsFor, validateOverrides } from "./modes.ts";
import { type LoadReading, type LoadSampler, SystemLoadSampler } from "./sampler.ts";
import { type LoadKind, Throttle, type ThrottleCounters, type ThrottleState } from "./throttle.ts";
import type { YieldState, YieldWatcher } from "./yield.ts";

export interface ResourceMonitorOptions {
  mode?: ResourceMode;
  overrides?: ResourceOverrides;
  /** Default: a SystemLoadSampler. */
  sampler?: LoadSampler;
  /** ms between samples while one of our jobs runs or some load is over its threshold (default 2000). */
  intervalMs?: number;
  /** ms between samples otherwise: an idle worker wakes less (default 5000, or intervalMs when that is given). */
  idleIntervalMs?: number;
  overSecs?: number;
  underSecs?: number;
  hysteresis?: number;
  /** Default: a PauseControl on real timers. */
  control?: PauseControl;
  /** Whether one of our jobs runs now (lets the throttle ignore a GPU figure that includes our own use). */
  ownJobRunning?: () => boolean;
  /** Called when a sample fails; the throttle keeps its state and the next tick tries again. */
  onError?: (error: unknown) => void;
  /** GPU programs and full-screen applications: while it yields, no jobs and status "throttled". */
  yieldWatcher?: YieldWatcher;
}

export interface ResourceStats {
  mode: ResourceMode;
  thresholds: Thresholds;
  /** Latest reading, or null before the first sample. */
  reading: LoadReading | null;
  throttle: ThrottleState;
  /** Loads above their threshold at the latest reading. */
  overloaded: readonly LoadKind[];
  counters: ThrottleCounters;
  pauses: ActivePause[];
  sampleErrors: number;
  /** Yielding to a GPU program or a full-screen application (null without a watcher). */
  yield: YieldState | null;
}

/** The load fields of a heartbeat's `stats` (the rest are the daemon's counters). */
export type HeartbeatLoad = Pick<HeartbeatStats, "cpu_percent" | "memory_percent" | "gpu_percent" | "vram_used_mb" | "throttled_requests">;

export type MonitorListener = () => void;

export class ResourceMonitor {
  readonly control: PauseControl;
  readonly throttle: Throttle;
  readonly #sampler: LoadSampler;
  readonly #intervalMs: number;
  readonly #idleIntervalMs: number;
  readonly #ownJobRunning: () => boolean;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<MonitorListener>();
  readonly #unsubscribe: (() => void)[];
  readonly #yield: YieldWatcher | null;
  #mode: ResourceMode;
  #overrides: ResourceOverrides;
  #reading: LoadReading | null = null;
  #inFlight: Promise<LoadReading | null> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped by start() and stop(), so a tick from an earlier start() never re-arms. */
  #generation = 0;
  #running = false;
  #sampleErrors = 0;

  constructor(options: ResourceMonitorOptions = {}) {
    this.#mode = options.mode ?? "default";
    this.#overrides = validateOverrides(options.overrides);
    const intervalMs = options.intervalMs ?? 2000;
    const idleIntervalMs = options.idleIntervalMs ?? options.intervalMs ?? 5000;
    for (const [key, ms] of [
      ["intervalMs", intervalMs],
      ["idleIntervalMs", idleIntervalMs],
    ] as const) {
      if (!Number.isFinite(ms) || ms <= 0) {
        throw new ResourceConfigError("invalid_throttle_option", key, `sample interval ${key} must be a positive number of ms (got ${ms})`);
      }
    }
    this.#intervalMs = intervalMs;
    this.#idleIntervalMs = Math.max(intervalMs, idleIntervalMs);
    const throttleOptions: ConstructorParameters<typeof Throttle>[0] = { thresholds: thresholdsFor(this.#mode, this.#overrides) };
    if (options.overSecs !== undefined) throttleOptions.overSecs = options.overSecs;
    if (options.underSecs !== undefined) throttleOptions.underSecs = options.underSecs;
    if (options.hysteresis !== undefined) throttleOptions.hysteresis = options.hysteresis;
    this.throttle = new Throttle(throttleOptions);
    this.#sampler = options.sampler ?? new SystemLoadSampler();
    this.control = options.control ?? new PauseControl();
    this.#ownJobRunning = options.ownJobRunning ?? (() => false);
    this.#onError = options.onError ?? (() => {});
    const notify = () => {
      for (const listener of [...this.#listeners]) listener();
    };
    this.#yield = options.yieldWatcher ?? null;
    this.#unsubscribe = [this.throttle.onChange(notify), this.control.onChange(notify)];
    if (this.#yield) this.#unsubscribe.push(this.#yield.onChange(notify));
  }

  get mode(): ResourceMode {
    return this.#mode;
  }

  /**
   * Idle: none of our jobs runs, and no load over its threshold is being timed towards throttling.
   * Then the monitor samples every idleIntervalMs (GPU figures may be older); once a load goes over,
   * every intervalMs, so a busy machine is throttled about overSecs after it is first seen. Once
   * throttled, the 30 s calm window needs no fast samples.
   */
  isIdle(): boolean {
    if (this.#ownJobRunning()) return false;
    return this.throttle.state === "throttled" || this.throttle.overloaded.length === 0;
  }

  /** ms until the next scheduled sample, from isIdle(). */
  nextIntervalMs(): number {
    return this.isIdle() ? this.#idleIntervalMs : this.#intervalMs;
  }

  /** Samples now, then every nextIntervalMs() until stop(). The timer is unref'd. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#tick(++this.#generation);
  }

  stop(): void {
    this.#running = false;
    this.#generation++;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Takes one sample and feeds the throttle (joins one already under way). Null when sampling failed. */
  sampleNow(): Promise<LoadReading | null> {
    this.#inFlight ??= this.#sample().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  /** Mode or overrides changed (config_update, tray): thresholds apply from the next reading. */
  setMode(mode: ResourceMode, overrides: ResourceOverrides = this.#overrides): void {
    const thresholds = thresholdsFor(mode, overrides);
    this.#mode = mode;
    this.#overrides = validateOverrides(overrides);
    this.throttle.setThresholds(thresholds);
  }

  isPaused(): boolean {
    return this.control.isPaused();
  }

  /** Heartbeat status for `runningJobs` jobs of ours now running. */
  status(runningJobs: number): WorkerStatus {
    return effectiveStatus({
      paused: this.control.isPaused(),
      throttled: this.throttle.state === "throttled" || this.isYielding(),
      runningJobs,
    });
  }

  /** Yielding to a GPU program or a full-screen application. */
  isYielding(): boolean {
    return this.#yield?.state.yielding === true;
  }

  /** Why the worker is paused or throttled now (for the tray), or null when it is not. */
  statusReason(): string | null {
    const pause = this.control.active()[0];
    if (pause) return pause.reason ?? (pause.source === "server" ? "paused by the coordinator" : "paused by the contributor");
    if (this.isYielding()) return this.#yield?.state.reason ?? "yielding to another program";
    if (this.throttle.state === "throttled") {
      const loads = this.throttle.overloaded;
      return loads.length ? `this computer is busy (${loads.join(", ")} over the threshold)` : "this computer is busy";
    }
    return null;
  }

  /** Whether a new job may start now (not paused, not throttled, not yielding); concurrency limits are the caller's. */
  canAcceptJob(): boolean {
    return !this.control.isPaused() && this.throttle.state === "normal" && !this.isYielding();
  }

  /** Counts a job offer refused because of `canAcceptJob()` (reported as throttled_requests). */
  noteRejected(): void {
    this.throttle.noteRejected();
  }

  stats(): ResourceStats {
    return {
      mode: this.#mode,
      thresholds: this.throttle.thresholds,
      reading: this.#reading,
      throttle: this.throttle.state,
      overloaded: this.throttle.overloaded,
      counters: this.throttle.counters(),
      pauses: this.control.active(),
      sampleErrors: this.#sampleErrors,
      yield: this.#yield?.state ?? null,
    };
  }

  /** Load fields for a heartbeat (zeros before the first sample; GPU fields only when known). */
  heartbeatLoad(): HeartbeatLoad {
    const r = this.#reading;
    const out: HeartbeatLoad = {
      cpu_percent: r?.cpuPercent ?? 0,
      memory_percent: r?.memoryPercent ?? 0,
      throttled_requests: this.throttle.counters().throttledRequests,
    };
    if (r?.gpuPercent != null) out.gpu_percent = r.gpuPercent;
    if (r?.vramUsedMb != null) out.vram_used_mb = Math.max(0, Math.round(r.vramUsedMb));
    return out;
  }

  /** Calls `listener` when the throttle state or a pause changes; returns the unsubscribe function. */
  onChange(listener: MonitorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops sampling and detaches from the throttle and pause control. */
  dispose(): void {
    this.stop();
    for (const off of this.#unsubscribe) off();
    this.#listeners.clear();
  }

  async #sample(): Promise<LoadReading | null> {
    let reading: LoadReading;
    try {
      reading = await this.#sampler.sample({ idle: this.isIdle() });
    } catch (error) {
      this.#sampleErrors++;
      this.#onError(error);
      return null;
    }
    this.#reading = reading;
    this.throttle.update(reading, { ownJobRunning: this.#ownJobRunning() });
    return reading;
  }

  async #tick(generation: number): Promise<void> {
    try {
      await this.sampleNow();
    } catch (error) {
      this.#onError(error);
    }
    if (generation !== this.#generation) return;
    this.#timer = setTimeout(() => void this.#tick(generation), this.nextIntervalMs());
    this.#timer.unref();
  }
}

// Adaptive throttling: a state machine fed load readings, with sustain windows and hysteresis.
import { ResourceConfigError } from "./errors.ts";
import type { Thresholds } from "./modes.ts";
import type { LoadReading } from "./sampler.ts";

export type ThrottleState = "normal" | "throttled";
export type LoadKind = "cpu" | "memory" | "gpu";

export interface ThrottleOptions {
  thresholds: Thresholds;
  /** Seconds some load must stay above its threshold before throttling (default 10). */
  overSecs?: number;
  /** Seconds every load must stay below threshold − hysteresis before resuming (default 30). */
  underSecs?: number;
  /** Percentage points below the threshold a load must fall to count as calm (default 10; at most half the threshold). */
  hysteresis?: number;
}

export interface UpdateContext {
  /** One of our jobs is running: a GPU figure that still includes our own use is ignored. */
  ownJobRunning?: boolean;
}

export interface ThrottleCounters {
  /** Times the throttle went from normal to throttled. */
  pauses: number;
  /** Job offers refused while throttled (`noteRejected()`). */
  throttledRequests: number;
  /** Total time spent throttled, up to the latest reading. */
  throttledMs: number;
}

export interface ThrottleChange {
  from: ThrottleState;
  to: ThrottleState;
  /** Reading time of the change. */
  at: number;
  /** Loads over their threshold at the change (empty when resuming). */
  loads: readonly LoadKind[];
}

export type ThrottleListener = (change: ThrottleChange) => void;

interface Level {
  kind: LoadKind;
  value: number;
  threshold: number;
}

function nonNegative(key: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new ResourceConfigError("invalid_throttle_option", key, `throttle option "${key}" must be a number ≥ 0 (got ${value})`);
  }
  return value;
}

function checkThresholds(t: Thresholds): Thresholds {
  for (const key of ["cpuPercent", "memoryPercent", "gpuPercent"] as const) {
    const v = t[key];
    if (!Number.isFinite(v) || v < 1 || v > 100) {
      throw new ResourceConfigError("invalid_throttle_option", key, `threshold "${key}" must be a percent from 1 to 100 (got ${v})`);
    }
  }
  return { cpuPercent: t.cpuPercent, memoryPercent: t.memoryPercent, gpuPercent: t.gpuPercent };
}

/** Decides from successive readings whether the machine is too busy for new jobs. No timers: time comes from `reading.at`. */
export class Throttle {
  readonly #overMs: number;
  readonly #underMs: number;
  readonly #hysteresis: number;
  readonly #listeners = new Set<ThrottleListener>();
  #thresholds: Thresholds;
  #state: ThrottleState = "normal";
  #overSince: number | null = null;
  #underSince: number | null = null;
  #lastAt: number | null = null;
  #overloaded: readonly LoadKind[] = [];
  #pauses = 0;
  #throttledRequests = 0;
  #throttledMs = 0;

  constructor(options: ThrottleOptions) {
    this.#thresholds = checkThresholds(options.thresholds);
    this.#overMs = nonNegative("overSecs", options.overSecs ?? 10) * 1000;
    this.#underMs = nonNegative("underSecs", options.underSecs ?? 30) * 1000;
    this.#hysteresis = nonNegative("hysteresis", options.hysteresis ?? 10);
  }

  get state(): ThrottleState {
    return this.#state;
  }

  get thresholds(): Thresholds {
    return this.#thresholds;
  }

  /** Loads above their threshold at the latest reading. */
  get overloaded(): readonly LoadKind[] {
    return this.#overloaded;
  }

  /** New thresholds (mode change) apply from the next reading; the sustain windows start over. */
  setThresholds(thresholds: Thresholds): void {
    this.#thresholds = checkThresholds(thresholds);
    this.#overSince = null;
    this.#underSince = null;
  }

  /** Feeds one reading; returns the state after it. */
  update(reading: LoadReading, context: UpdateContext = {}): ThrottleState {
    const at = reading.at;
    const last = this.#lastAt;
    if (last !== null && at < last) {
      // the clock went back: no time passed, and no window can be trusted
      this.#overSince = null;
      this.#underSince = null;
    } else if (last !== null && this.#state === "throttled") {
      this.#throttledMs += at - last;
    }
    this.#lastAt = at;

    const levels = this.#levels(reading, context);
    this.#overloaded = levels.filter((l) => l.value > l.threshold).map((l) => l.kind);
    if (this.#state === "normal") {
      if (this.#overloaded.length === 0) {
        this.#overSince = null;
      } else {
        this.#overSince ??= at;
        if (at - this.#overSince >= this.#overMs) this.#enter("throttled", at);
      }
    } else {
      const calm = levels.every((l) => l.value < l.threshold - Math.min(this.#hysteresis, l.threshold / 2));
      if (!calm) {
        this.#underSince = null;
      } else {
        this.#underSince ??= at;
        if (at - this.#underSince >= this.#underMs) this.#enter("normal", at);
      }
    }
    return this.#state;
  }

  /** Counts a job offer refused because the machine is busy. */
  noteRejected(): void {
    this.#throttledRequests++;
  }

  counters(): ThrottleCounters {
    return { pauses: this.#pauses, throttledRequests: this.#throttledRequests, throttledMs: this.#throttledMs };
  }

  /** Calls `listener` on every state change; returns the unsubscribe function. */
  onChange(listener: ThrottleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #levels(r: LoadReading, context: UpdateContext): Level[] {
    const t = this.#thresholds;
    const levels: Level[] = [
      { kind: "cpu", value: r.cpuPercent, threshold: t.cpuPercent },
      { kind: "memory", value: r.memoryPercent, threshold: t.memoryPercent },
    ];
    const gpuIsOurs = context.ownJobRunning === true && r.gpuOwnExcluded !== true;
    if (r.gpuPercent !== null && !gpuIsOurs) levels.push({ kind: "gpu", value: r.gpuPercent, threshold: t.gpuPercent });
    return levels;
  }

  #enter(to: ThrottleState, at: number): void {
    const from = this.#state;
    this.#state = to;
    this.#overSince = null;
    this.#underSince = null;
    if (to === "throttled") this.#pauses++;
    const change: ThrottleChange = { from, to, at, loads: to === "throttled" ? this.#overloaded : [] };
    for (const listener of [...this.#listeners]) listener(change);
  }
}

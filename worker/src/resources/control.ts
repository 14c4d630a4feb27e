// Manual pause/resume from the coordinator ("server") and the contributor ("local"), and the effective worker status.
import type { CommandMessage, WorkerStatus } from "@gogrid/protocol";
import { PauseError } from "./errors.ts";

export type PauseSource = "server" | "local";
export const PAUSE_SOURCES: readonly PauseSource[] = ["server", "local"];

export interface ActivePause {
  readonly source: PauseSource;
  readonly reason: string | null;
  /** ms since the epoch (the scheduler's clock). */
  readonly since: number;
  /** Auto-resume time, or null = until resumed. */
  readonly until: number | null;
}

export interface PauseRequest {
  reason?: string;
  /** Resume on its own after this many seconds; absent = until resumed. */
  durationSecs?: number;
}

export interface PauseChange {
  readonly source: PauseSource;
  readonly cause: "pause" | "resume" | "expired";
  /** The source's pause after the change (null = that source no longer pauses). */
  readonly pause: ActivePause | null;
  /** Whether any source still pauses the worker. */
  readonly paused: boolean;
}

export type PauseListener = (change: PauseChange) => void;

/** Clock and one-shot timers; tests pass a fake one. */
export interface Scheduler {
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/** Real clock and timers; timers are unref'd so a pending auto-resume never keeps the process alive. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** setTimeout's longest delay; longer pauses re-arm until they are due. */
const MAX_TIMER_MS = 2_147_483_647;

function checkSource(source: PauseSource): PauseSource {
  if (!PAUSE_SOURCES.includes(source)) {
    throw new PauseError("invalid_pause_source", `unknown pause source ${JSON.stringify(source)}: use "server" or "local"`);
  }
  return source;
}

/** Manual pauses, at most one per source; the worker is paused while any is active. */
export class PauseControl {
  readonly #scheduler: Scheduler;
  readonly #pauses = new Map<PauseSource, ActivePause>();
  readonly #cancels = new Map<PauseSource, () => void>();
  readonly #listeners = new Set<PauseListener>();

  constructor(options: { scheduler?: Scheduler } = {}) {
    this.#scheduler = options.scheduler ?? realScheduler;
  }

  /** Pauses for `source`, replacing that source's earlier pause (and its timer). */
  pause(source: PauseSource, request: PauseRequest = {}): ActivePause {
    checkSource(source);
    const { durationSecs } = request;
    if (durationSecs !== undefined && (!Number.isFinite(durationSecs) || durationSecs <= 0)) {
      throw new PauseError("invalid_pause_duration", `pause duration must be a positive number of seconds (got ${durationSecs})`);
    }
    this.#cancel(source);
    const since = this.#scheduler.now();
    const until = durationSecs === undefined ? null : since + durationSecs * 1000;
    const pause: ActivePause = { source, reason: request.reason ?? null, since, until };
    this.#pauses.set(source, pause);
    if (until !== null) this.#arm(source, until);
    this.#emit(source, "pause", pause);
    return pause;
  }

  /** Ends `source`'s pause; another source's pause stays. Returns whether that source was paused. */
  resume(source: PauseSource): boolean {
    checkSource(source);
    return this.#end(source, "resume");
  }

  isPaused(): boolean {
    this.#expireDue();
    return this.#pauses.size > 0;
  }

  get(source: PauseSource): ActivePause | null {
    this.#expireDue();
    return this.#pauses.get(source) ?? null;
  }

  /** Active pauses, server first. */
  active(): ActivePause[] {
    this.#expireDue();
    return PAUSE_SOURCES.flatMap((s) => this.#pauses.get(s) ?? []);
  }

  /** Calls `listener` on every pause, resume and expiry; returns the unsubscribe function. */
  onChange(listener: PauseListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Cancels the auto-resume timers (the pauses themselves stay as they are). */
  dispose(): void {
    for (const source of PAUSE_SOURCES) this.#cancel(source);
    this.#listeners.clear();
  }

  #arm(source: PauseSource, until: number): void {
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, until - this.#scheduler.now()));
    this.#cancels.set(
      source,
      this.#scheduler.schedule(() => {
        this.#cancels.delete(source);
        if (this.#pauses.get(source)?.until !== until) return;
        if (this.#scheduler.now() >= until) this.#end(source, "expired");
        else this.#arm(source, until);
      }, wait),
    );
  }

  /** A timer that fires late (sleep, busy loop) must not leave an expired pause visible. */
  #expireDue(): void {
    const now = this.#scheduler.now();
    for (const p of [...this.#pauses.values()]) {
      if (p.until !== null && now >= p.until) this.#end(p.source, "expired");
    }
  }

  #end(source: PauseSource, cause: "resume" | "expired"): boolean {
    this.#cancel(source);
    if (!this.#pauses.delete(source)) return false;
    this.#emit(source, cause, null);
    return true;
  }

  #cancel(source: PauseSource): void {
    this.#cancels.get(source)?.();
    this.#cancels.delete(source);
  }

  #emit(source: PauseSource, cause: PauseChange["cause"], pause: ActivePause | null): void {
    const change: PauseChange = { source, cause, pause, paused: this.#pauses.size > 0 };
    for (const listener of [...this.#listeners]) listener(change);
  }
}

/**
 * Applies a coordinator `command`: pause (with reason and duration) or resume of the server's pause.
 * A local pause is the contributor's and stays. "restart" is not ours: returns "unhandled".
 */
export function applyServerCommand(
  control: PauseControl,
  command: Pick<CommandMessage, "action" | "reason" | "duration_secs">,
): "paused" | "resumed" | "unhandled" {
  switch (command.action) {
    case "pause": {
      const request: PauseRequest = {};
      if (command.reason !== undefined) request.reason = command.reason;
      if (command.duration_secs !== undefined) request.durationSecs = command.duration_secs;
      control.pause("server", request);
      return "paused";
    }
    case "resume":
      control.resume("server");
      return "resumed";
    default:
      return "unhandled";
  }
}

/** The heartbeat status: paused beats throttled beats busy/idle. */
export function effectiveStatus(input: { paused: boolean; throttled: boolean; runningJobs: number }): WorkerStatus {
  if (input.paused) return "paused";
  if (input.throttled) return "throttled";
  return input.runningJobs > 0 ? "busy" : "idle";
}

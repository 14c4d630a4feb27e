// Download progress: throttled (time or fraction step), never going backwards, always ending at the total.

/** `total` is undefined while the size is unknown (no `size` given and no Content-Length). */
export type ProgressFn = (received: number, total: number | undefined) => void;

export interface ProgressReporter {
  /** Bytes so far; reported when `intervalMs` passed or `step` of the total was added since the last report. */
  update(received: number, total: number | undefined): void;
  /** The transfer is complete: reports `received` of `received` unless that was the last report. */
  finish(received: number): void;
}

export interface ProgressOptions {
  /** Minimum time between two reports (default 250 ms). */
  intervalMs?: number;
  /** Fraction of the total that is reported without waiting for `intervalMs` (default 0.01). */
  step?: number;
  now?: () => number;
}

/**
 * Wraps a callback so it is called at most every `intervalMs` or `step` of the total, with strictly
 * increasing `received` (a download restarted from 0 stays silent until it passes the last report).
 */
export function progressReporter(cb: ProgressFn, opts: ProgressOptions = {}): ProgressReporter {
  const intervalMs = opts.intervalMs ?? 250;
  const step = opts.step ?? 0.01;
  const now = opts.now ?? Date.now;
  let lastReceived = -1;
  let lastTotal: number | undefined;
  let lastAt = Number.NEGATIVE_INFINITY;

  const emit = (received: number, total: number | undefined) => {
    lastReceived = received;
    lastTotal = total;
    lastAt = now();
    cb(received, total);
  };

  return {
    update(received, total) {
      if (received <= lastReceived) return;
      const stepBytes = total === undefined ? Number.POSITIVE_INFINITY : total * step;
      if (received === total || now() - lastAt >= intervalMs || received - lastReceived >= stepBytes) emit(received, total);
    },
    finish(received) {
      if (received > lastReceived || lastTotal !== received) emit(received, received);
    },
  };
}

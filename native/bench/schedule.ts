// How runs are scheduled on a small shared machine: quiet waits, warm-up, settle runs, deadlines and retries.
import { disturbed, waitForQuiet, watchForeignLoad } from "./cpu-load.ts";
import type { BenchModel } from "./models.ts";
import type { EngineRunner, RunFigures } from "./runner.ts";

/** Per model: wall time that repeated runs, and waits for other processes to finish, may take in all. */
const RETRY_BUDGET_MS = 20_000;
const QUIET_BUDGET_MS = 30_000;
/** Longest single wait for a quiet machine. */
const QUIET_WAIT_MS = 10_000;
/** A warm-up run slower than this is given up (and tried once more). */
const WARMUP_DEADLINE_MS = 30_000;
/** A timed run this many times slower than the engine's fastest run so far counts as disturbed. */
const OUTLIER_FACTOR = 3;

export interface TimedResult {
  /** The kept run; null when even the last attempt hit its deadline. */
  fig: RunFigures | null;
  retries: number;
  /** The kept run had other processes' work beside it. */
  disturbed: boolean;
}

export class BusyMachineError extends Error {
  readonly code = "busy_machine";
}

export class RunScheduler {
  /** Each engine's fastest full run so far (wall ms). */
  private readonly bestMs = new Map<EngineRunner, number>();
  private retryMs = RETRY_BUDGET_MS;
  private quietMs = QUIET_BUDGET_MS;
  /** Time spent waiting for other processes to leave the CPUs. */
  waitedMs = 0;

  constructor(
    private readonly model: BenchModel,
    private readonly maxRetries: number,
    private readonly pids: () => number[],
    private readonly log: (line: string) => void,
  ) {}

  private async quiet(): Promise<void> {
    if (this.quietMs <= 0) return;
    const w = await waitForQuiet(this.pids(), Math.min(QUIET_WAIT_MS, this.quietMs));
    this.quietMs -= w.waitedMs;
    this.waitedMs += w.waitedMs;
    if (w.waitedMs > 1000)
      this.log(`${this.model.name}: waited ${(w.waitedMs / 1000).toFixed(1)} s for other processes${w.quiet ? "" : " (still busy)"}`);
  }

  /** The untimed first run of an engine; it also sets the deadline of its timed runs. */
  async warmUp(r: EngineRunner): Promise<RunFigures> {
    for (let attempt = 0; attempt < 2; attempt++) {
      await this.quiet();
      const t0 = performance.now();
      const fig = await r.run({ deadlineMs: WARMUP_DEADLINE_MS });
      if (!fig.aborted) {
        this.bestMs.set(r, performance.now() - t0);
        return fig;
      }
      this.log(`${this.model.name}: ${r.label} warm-up took over ${WARMUP_DEADLINE_MS / 1000} s`);
    }
    throw new BusyMachineError(`${r.label}: warm-up runs took over ${WARMUP_DEADLINE_MS / 1000} s twice (machine too busy?)`);
  }

  /**
   * One timed run: wait for a quiet machine, make a short untimed settle run of the same engine
   * (on a small VM the run after another process's run, or after an idle gap, is otherwise often
   * several times slower, for every engine), then the timed run. A run during which other
   * processes took CPU, or 3× slower than the engine's fastest (host-level stalls leave no trace
   * in the VM's counters), is thrown away and run again, at most `maxRetries` times and while the
   * model's retry budget lasts. The last attempt is kept whatever it measured.
   */
  async timed(r: EngineRunner): Promise<TimedResult> {
    const best = this.bestMs.get(r) ?? 10_000;
    const deadlineMs = Math.max(1000, OUTLIER_FACTOR * best);
    await this.quiet();
    await r.run({ decodeTokens: this.model.settleTokens, deadlineMs });
    for (let attempt = 0; ; attempt++) {
      const watch = watchForeignLoad(this.pids());
      const t0 = performance.now();
      const fig = await r.run({ deadlineMs });
      const wallMs = performance.now() - t0;
      const load = watch?.();
      if (!fig.aborted && wallMs < (this.bestMs.get(r) ?? Number.POSITIVE_INFINITY)) this.bestMs.set(r, wallMs);
      const foreign = load ? disturbed(load) : false;
      const slow = wallMs > OUTLIER_FACTOR * best;
      const bad = fig.aborted || foreign || slow;
      if (!bad || attempt >= this.maxRetries || this.retryMs <= 0) {
        return { fig: fig.aborted ? null : fig, retries: attempt, disturbed: bad };
      }
      this.retryMs -= wallMs;
      const why = fig.aborted
        ? `over its ${(deadlineMs / 1000).toFixed(1)} s deadline`
        : foreign
          ? `${load?.foreignCores.toFixed(2)} cores of other work`
          : `${(wallMs / best).toFixed(1)}× its fastest run`;
      this.log(`${this.model.name}: ${r.label} run disturbed (${why}), running it again`);
      await this.quiet();
    }
  }
}

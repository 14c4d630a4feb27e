// Hands queued jobs to this instance's connected workers; requeues lost attempts.
import { workerClass } from "../audit/model.ts";
import type { JobRow, Repository } from "../db/repository.ts";
import type { CoordinatorMetrics } from "../metrics/index.ts";
import type { Bus } from "./bus.ts";

/** A connected worker as the scheduler sees it. */
export interface WorkerSlot {
  nodeId: string;
  /** Only "idle" and "busy" workers take jobs (not paused, throttled or still handshaking). */
  status: string;
  capacity: number;
  running: number;
  /** Models in the worker's cache. */
  models: string[];
  /** Sends the attempt to the worker. */
  assign(job: JobRow): void | Promise<void>;
}

export interface SchedulerOptions {
  leaseMs: number;
  retryBaseMs: number;
  offlineAfterMs: number;
  now?: () => number;
  metrics?: CoordinatorMetrics;
}

export function retryDelay(attempts: number, baseMs: number): number {
  return baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 16));
}

export class Scheduler {
  private running = false;
  private again = false;
  private readonly now: () => number;

  constructor(
    private readonly repo: Repository,
    private readonly bus: Bus,
    private readonly options: SchedulerOptions,
    private readonly slots: () => WorkerSlot[],
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Runs a scheduling pass soon; calls while one runs make it run once more. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  private async pass(): Promise<void> {
    const all = (await this.repo.listModels()).map((m) => m.id);
    // quarantined workers (issue 9) get nothing; the others lease within their class
    const known = new Map((await this.repo.listWorkers()).map((w) => [w.nodeId, w]));
    for (;;) {
      const free = this.slots()
        .filter((s) => (s.status === "idle" || s.status === "busy") && s.running < s.capacity)
        .filter((s) => known.get(s.nodeId)?.quarantinedAt === null)
        .sort((a, b) => a.running / a.capacity - b.running / b.capacity);
      if (free.length === 0) return;
      let placed = false;
      // cached models first (no download), then anything the worker can fetch
      for (const models of [(s: WorkerSlot) => s.models, () => all]) {
        for (const slot of free) {
          const job = await this.repo.leaseNextJob({
            workerId: slot.nodeId,
            models: models(slot),
            now: this.now(),
            leaseMs: this.options.leaseMs,
            fence: crypto.randomUUID(),
            workerClass: workerClass(known.get(slot.nodeId)?.info ?? null),
          });
          if (!job) continue;
          this.options.metrics?.attempt("attempt_started");
          if (job.attempts === 1) this.options.metrics?.jobStarted(this.now() - job.createdAt);
          // a send that fails (socket or database gone, shutdown) is not lost: the lease runs out
          // and the job is queued again
          Promise.resolve(slot.assign(job)).catch(() => {});
          await this.bus.publish({
            kind: "job_event",
            jobId: job.id,
            event: { type: "attempt", attempt: job.attempts, workerId: slot.nodeId },
          });
          placed = true;
          break;
        }
        if (placed) break;
      }
      if (!placed) return;
    }
  }

  /** Periodic housekeeping: expired leases back to the queue, silent workers offline. */
  async tick(): Promise<void> {
    const now = this.now();
    const requeued = await this.repo.requeueExpired(now, (job) => now + retryDelay(job.attempts, this.options.retryBaseMs));
    for (const job of requeued) {
      this.options.metrics?.attempt("worker_lost");
      if (job.status === "dead") await this.bus.publish({ kind: "job_finished", jobId: job.id });
      else this.options.metrics?.attempt("retried");
    }
    await this.repo.markStaleWorkersOffline(now - this.options.offlineAfterMs);
    if (requeued.length > 0) await this.bus.publish({ kind: "job_available" });
    this.trigger();
  }
}

// Hands queued jobs to this instance's connected workers; requeues lost attempts.
import { workerClass } from "../audit/model.ts";
import type { JobRow, Repository, WorkerRow } from "../db/repository.ts";
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
  /** How long the model list is reused between passes (the tick always re-reads it). */
  modelsTtlMs?: number;
}

export function retryDelay(attempts: number, baseMs: number): number {
  return baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 16));
}

/** What placement needs from a worker's row; read when its socket is first seen and at every tick. */
interface SlotFacts {
  /** Its row exists (a slot without one gets nothing). */
  known: boolean;
  /** Quarantined when last read: asked last. The lease itself refuses a quarantined worker, so a release counts at once. */
  quarantined: boolean;
  workerClass: string;
}

export class Scheduler {
  private running = false;
  private again = false;
  private force = false;
  private readonly now: () => number;
  private readonly facts = new WeakMap<WorkerSlot, SlotFacts>();
  /** When each slot last got a job (a lease count): equally loaded slots take turns. */
  private readonly lastLeased = new WeakMap<WorkerSlot, number>();
  private leases = 0;
  /**
   * Jobs said to be waiting and not leased yet here: submissions, retries and other instances say
   * so on the bus (job_available, one per job); each lease takes one off, and a pass that finds
   * nothing sets it to 0. Passes stop at 0, so neither results and heartbeats that free a slot nor
   * a drained queue cost empty lease statements. Only a hint: the tick's pass ignores it and
   * leases whatever is there, so nothing is stranded (jobs requeued in a batch wait for it).
   */
  private pending = 1;
  /** Bumped by each job_available: a pass that found nothing clears `pending` only if none came while it ran. */
  private signals = 0;
  private models: { ids: string[]; at: number } | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly repo: Repository,
    private readonly bus: Bus,
    private readonly options: SchedulerOptions,
    private readonly slots: () => WorkerSlot[],
  ) {
    this.now = options.now ?? Date.now;
    this.unsubscribe = bus.subscribe((e) => {
      if (e.kind === "job_available") this.jobAvailable();
    });
  }

  /** A job may be waiting (also heard on the bus): the next pass leases. */
  private jobAvailable(): void {
    this.signals++;
    this.pending++;
    this.trigger();
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
        const force = this.force;
        this.force = false;
        await this.pass(force);
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  private async modelIds(force: boolean): Promise<string[]> {
    const now = this.now();
    if (force || !this.models || now - this.models.at >= (this.options.modelsTtlMs ?? 1000)) {
      this.models = { ids: (await this.repo.listModels()).map((m) => m.id), at: now };
    }
    return this.models.ids;
  }

  /** Placement facts of the slots (quarantined workers, issue 9, are asked last); all re-read when `force`. */
  private async slotFacts(slots: WorkerSlot[], force: boolean): Promise<void> {
    const toFacts = (w: WorkerRow | null | undefined): SlotFacts => ({
      known: w != null,
      quarantined: w?.quarantinedAt != null,
      workerClass: workerClass(w?.info ?? null),
    });
    if (force) {
      const known = new Map((await this.repo.listWorkers()).map((w) => [w.nodeId, w]));
      for (const s of slots) this.facts.set(s, toFacts(known.get(s.nodeId)));
      return;
    }
    for (const s of slots) if (!this.facts.has(s)) this.facts.set(s, toFacts(await this.repo.getWorker(s.nodeId)));
  }

  private async pass(force: boolean): Promise<void> {
    if (!force && this.pending === 0) return;
    const signals = this.signals;
    const ready = this.slots().filter((s) => s.status === "idle" || s.status === "busy");
    if (ready.length === 0) return;
    // the tick's full pass over an idle fleet: one COUNT instead of a lease query per free slot
    if (force && this.pending === 0 && (await this.repo.countJobs("queued")) === 0) {
      if (this.signals === signals) return;
    }
    const all = await this.modelIds(force);
    await this.slotFacts(ready, force);
    // (class, model set) pairs whose lease came back empty: another slot of the pair could only
    // get a job placed by worker, so while none is queued no other slot asks again this pass
    const empty = new Set<string>();
    let exhaustive = force;
    for (;;) {
      const quarantined = (s: WorkerSlot) => (this.facts.get(s)?.quarantined ? 1 : 0);
      const free = ready
        .filter((s) => s.running < s.capacity && this.facts.get(s)?.known === true)
        .sort(
          (a, b) =>
            quarantined(a) - quarantined(b) ||
            a.running / a.capacity - b.running / b.capacity ||
            (this.lastLeased.get(a) ?? 0) - (this.lastLeased.get(b) ?? 0),
        );
      if (free.length === 0) return; // the hint stays: jobs may still wait for a slot
      let placedJobs = 0;
      // cached models first (no download), then anything the worker can fetch
      for (const cached of [true, false]) {
        for (const slot of free) {
          const cls = this.facts.get(slot)?.workerClass as string;
          const models = cached ? slot.models : all;
          if (models.length === 0) continue; // nothing cached (yet): no lease to ask for, nothing to learn
          const key = `${cls}\n${cached ? models.join("\n") : "*"}`;
          if (!exhaustive && empty.has(key)) continue;
          // several jobs in one statement when several wait: the jobs said to wait shared among
          // the free slots, as many as this slot has room for (at most the store's leaseBatchLimit)
          const room = slot.capacity - slot.running;
          const n = Math.max(1, Math.min(room, this.repo.leaseBatchLimit, Math.ceil(this.pending / free.length)));
          const leased = await this.repo.leaseNextJobs({
            workerId: slot.nodeId,
            models,
            now: this.now(),
            leaseMs: this.options.leaseMs,
            fences: Array.from({ length: n }, () => crypto.randomUUID()),
            workerClass: cls,
          });
          if (leased.length < n) {
            // nothing (more) for this pair: as an empty lease
            if (!exhaustive && empty.size === 0 && (await this.repo.hasPlacedJobs(this.now()))) exhaustive = true;
            empty.add(key);
            if (leased.length === 0) continue;
          }
          for (const job of leased) {
            this.options.metrics?.attempt("attempt_started");
            if (job.attempts === 1) this.options.metrics?.jobStarted(this.now() - job.createdAt);
            // a send that fails (socket or database gone, shutdown) is not lost: the lease runs out
            // and the job is queued again
            Promise.resolve(slot.assign(job)).catch(() => {});
          }
          // a first attempt's chunks say their attempt number themselves; a retry tells waiters to restart
          for (const job of leased) {
            if (job.attempts > 1) {
              await this.bus.publish({
                kind: "job_event",
                jobId: job.id,
                event: { type: "attempt", attempt: job.attempts, workerId: slot.nodeId },
              });
            }
          }
          this.lastLeased.set(slot, ++this.leases);
          placedJobs = leased.length;
          break;
        }
        if (placedJobs > 0) break;
      }
      if (placedJobs === 0) {
        if (this.signals === signals) this.pending = 0;
        return;
      }
      if (!force) {
        this.pending = Math.max(0, this.pending - placedJobs);
        if (this.pending === 0) return;
      }
    }
  }

  /** Periodic housekeeping: expired leases back to the queue, silent workers offline, a full pass. */
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
    this.force = true;
    this.trigger();
  }

  close(): void {
    this.unsubscribe();
  }
}

// The job system as clients see it: admission, the durable queue, and waiting for results.
import { isFinished } from "../db/enums.ts";
import type { JobRow, Repository } from "../db/repository.ts";
import type { CoordinatorMetrics } from "../metrics/index.ts";
import type { Bus, BusEvent } from "./bus.ts";
import { type JobOutcome, JobRejectedError, type JobSubmitter, newJobId, type SubmitInput, type SubmittedJob } from "./types.ts";
import { JobWatch } from "./watch.ts";

export interface JobServiceOptions {
  metrics?: CoordinatorMetrics;
  instanceId: string;
  queueLimit: number;
  maxAttempts: number;
  timeoutMs: number;
  now?: () => number;
  /** How long admission reuses the online-worker and queued-job counts (default 1 s; 0 reads them per job). */
  countsTtlMs?: number;
  /** Result verification's hook (AuditService.prepare): may pick the job for audit and adjust its request. */
  prepare?: (jobId: string, input: SubmitInput) => Promise<SubmitInput["request"]>;
}

/** The client-facing outcome of a finished job row. */
export function outcomeOf(job: JobRow): JobOutcome {
  const status = job.status === "completed" ? "completed" : job.status === "cancelled" ? "cancelled" : "failed";
  return {
    status,
    text: job.resultText ?? "",
    finishReason:
      status === "completed" ? ((job.finishReason as JobOutcome["finishReason"]) ?? "stop") : status === "cancelled" ? "cancelled" : null,
    promptTokens: job.promptTokens ?? 0,
    completionTokens: job.completionTokens ?? 0,
    error: status === "failed" ? (job.error ?? { code: "job_failed", message: `the job ended as ${job.status}` }) : null,
  };
}

export class JobService implements JobSubmitter {
  private readonly watches = new Map<string, JobWatch>();
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  constructor(
    private readonly repo: Repository,
    private readonly bus: Bus,
    private readonly options: JobServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.countsTtlMs = options.countsTtlMs ?? 1000;
    this.unsubscribe = bus.subscribe((e) => void this.onBus(e));
  }

  private readonly submittedAt = new Map<string, number>();
  private readonly countsTtlMs: number;
  private online: { n: number; at: number } | null = null;
  private queued: { n: number; added: number; at: number } | null = null;

  private async onBus(e: BusEvent): Promise<void> {
    if (e.kind === "job_event") {
      this.watches.get(e.jobId)?.onEvent(e.event);
      const t = this.submittedAt.get(e.jobId);
      if (t !== undefined && e.event.type === "chunk") {
        this.submittedAt.delete(e.jobId);
        this.options.metrics?.firstToken(this.now() - t);
      }
    } else if (e.kind === "job_finished") {
      const watch = this.watches.get(e.jobId);
      if (!watch) return;
      const job = e.job ?? (await this.repo.getJob(e.jobId));
      if (job && isFinished(job.status)) this.settle(watch, job);
    }
  }

  private settle(watch: JobWatch, job: JobRow): void {
    this.watches.delete(job.id);
    this.submittedAt.delete(job.id);
    const outcome = outcomeOf(job);
    const label =
      outcome.status !== "failed" ? outcome.status : job.error?.code === "timeout" ? "timeout" : job.status === "dead" ? "dead" : "failed";
    this.options.metrics?.jobFinished(label, job.startedAt && job.finishedAt ? job.finishedAt - job.startedAt : undefined);
    watch.finish(outcome);
  }

  /** Models clients may ask for, and whether an online worker can serve each now. */
  async models(): Promise<{ id: string; created: number; available: boolean }[]> {
    const [models, online] = await Promise.all([this.repo.listModels(), this.onlineWorkers()]);
    return models.map((m) => ({ id: m.id, created: Math.floor(m.createdAt / 1000), available: online > 0 }));
  }

  /**
   * Workers able to take jobs (online, not revoked, not quarantined), counted at most once per
   * `countsTtlMs`; a count of 0 is never reused, so the first worker to connect is seen at once.
   */
  private async onlineWorkers(): Promise<number> {
    const now = this.now();
    const cached = this.online;
    if (cached && cached.n > 0 && now - cached.at < this.countsTtlMs) return cached.n;
    const n = await this.repo.countOnlineWorkers();
    this.online = { n, at: now };
    return n;
  }

  /** Whether the model exists (the repository keeps found models for a second: db/lookup-cache.ts). */
  private async modelExists(id: string): Promise<boolean> {
    return (await this.repo.getModel(id)) !== null;
  }

  /**
   * Whether the queue is full. The count is read at most once per `countsTtlMs` and this
   * instance's own submissions since are added (leases only lower it), so a full queue is always
   * confirmed by a fresh count before a job is refused.
   */
  private async queueFull(): Promise<boolean> {
    const limit = this.options.queueLimit;
    const now = this.now();
    const q = this.queued;
    if (q && now - q.at < this.countsTtlMs && q.n + q.added < limit) return false;
    const n = await this.repo.countJobs("queued");
    this.queued = { n, added: 0, at: now };
    return n >= limit;
  }

  /** Refuses a submission (counted as rejected). */
  private reject(...args: ConstructorParameters<typeof JobRejectedError>): never {
    this.options.metrics?.jobFinished("rejected");
    throw new JobRejectedError(...args);
  }

  async submit(input: SubmitInput): Promise<SubmittedJob> {
    if (!(await this.modelExists(input.model)))
      this.reject("model_not_found", `The model '${input.model}' does not exist (GET /v1/models lists them)`);
    if ((await this.onlineWorkers()) === 0) this.reject("no_capacity", "no worker is online to run this job; try again shortly", 30);
    if (await this.queueFull())
      this.reject("queue_full", `the queue is full (${this.options.queueLimit} jobs waiting); try again shortly`, 5);
    const id = newJobId();
    const request = this.options.prepare ? await this.options.prepare(id, input) : input.request;
    const watch = new JobWatch(id);
    this.watches.set(id, watch); // before anyone can run it
    this.submittedAt.set(id, this.now());
    if (this.queued) this.queued.added++;
    const enqueued = this.repo.enqueueJob({
      id,
      apiKeyId: input.apiKeyId,
      model: input.model,
      request: request as unknown as Record<string, unknown>,
      priority: input.priority ?? 50,
      maxAttempts: this.options.maxAttempts,
      timeoutMs: this.options.timeoutMs,
      originInstance: this.options.instanceId,
      now: this.now(),
    });
    // not awaited: this instance's scheduler hears it at once; other instances are told by NOTIFY,
    // and one that is lost is made good by their tick's full pass. Where a turn's calls share one
    // commit (SQLite) the scheduler is told before the enqueue settles, so that its lease joins
    // the enqueue's transaction: one commit a job fewer, and nobody hears of the job before it is
    // committed either way (a lease settles after its commit). Elsewhere it must be committed first.
    const announce = () => void this.bus.publish({ kind: "job_available" }).catch(() => {});
    if (this.repo.turnsShareCommit) announce();
    await enqueued;
    if (!this.repo.turnsShareCommit) announce();
    return {
      id,
      stream: () => watch.stream(),
      result: watch.result,
      cancel: async (reason) => {
        await this.cancel(id, reason);
      },
    };
  }

  /**
   * Settles waiters whose job ended without an event reaching this instance (a lost NOTIFY, or a
   * change made by gogrid-admin from another process).
   */
  async sweep(): Promise<void> {
    for (const job of await this.repo.getJobs([...this.watches.keys()])) {
      const watch = this.watches.get(job.id);
      if (watch && isFinished(job.status)) this.settle(watch, job);
    }
  }

  /** Cancels a job; its worker (on whichever instance) is told to stop. */
  async cancel(jobId: string, reason: string): Promise<JobRow | null> {
    const job = await this.repo.cancelJob(jobId, this.now());
    if (!job) return null;
    if (job.workerId && job.fence) await this.bus.publish({ kind: "job_cancel", jobId, workerId: job.workerId, fence: job.fence, reason });
    await this.bus.publish({ kind: "job_finished", jobId, job });
    return job;
  }

  close(): void {
    this.unsubscribe();
    for (const [id, w] of this.watches) {
      w.finish({
        status: "failed",
        text: "",
        finishReason: null,
        promptTokens: 0,
        completionTokens: 0,
        error: { code: "shutting_down", message: "the coordinator is shutting down" },
      });
      this.watches.delete(id);
    }
  }
}

// Result verification (issue 9): audit re-runs with a third opinion, canaries, trust and quarantine.
//
// Why the comparison is meaningful: every job carries a seed the coordinator fixed at submission,
// so one request on one backend class gives one output, temperature 0 or not, as long as the
// worker runs it alone with no prompt cache (batch shapes change the rounding). Jobs are picked
// for audit when they are submitted, so the original already runs with `deterministic: true`, and
// so does its re-run; a share of unaudited jobs carries the flag too (decoys), so a worker cannot
// tell an audited job from the flag. The trust score and the verdicts are in model.ts.
import { isFinished } from "../db/enums.ts";
import type { AuditRow, JobRow, Repository, TrustPolicy, WorkerRow } from "../db/repository.ts";
import type { Bus } from "../jobs/bus.ts";
import { type JobRequest, newJobId, type SubmitInput } from "../jobs/types.ts";
import type { CoordinatorMetrics } from "../metrics/index.ts";
import { type AuditSettings, compareOutputs, trustPolicy, type Verdict, workerClass } from "./model.ts";

/** A claimed step whose job never appeared (the claiming process died) is given up after this. */
const MISSING_JOB_GRACE_MS = 60_000;

export interface AuditDeps {
  metrics?: CoordinatorMetrics;
  log?: (level: "info" | "warn", message: string) => void;
  now?: () => number;
  /** Uniform in [0, 1); replaceable for tests. */
  random?: () => number;
  /** This instance (canaries follow only the client jobs whose client waits here). */
  instanceId?: string;
}

export class AuditService {
  readonly policy: TrustPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly unsubscribe: () => void;
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  /** When this instance started, and the client jobs it picked for audit since (issue 10: no audit lookup per job). */
  private readonly startedAt: number;
  private readonly audited = new Set<string>();

  constructor(
    private readonly repo: Repository,
    private readonly bus: Bus,
    private readonly settings: AuditSettings,
    private readonly deps: AuditDeps = {},
  ) {
    this.policy = trustPolicy(settings.prior, settings.threshold);
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.startedAt = this.now();
    this.unsubscribe = bus.subscribe((e) => {
      if (e.kind !== "job_finished" || this.closed) return;
      const p = this.onJobFinished(e.jobId, e.job).catch((err) => {
        if (!this.closed) this.warn(`audit of job ${e.jobId}: ${err}`);
      });
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    });
  }

  /** Stops listening and waits for the checks being handled (call before closing the repository). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await Promise.allSettled([...this.inflight]);
  }

  private warn(message: string): void {
    this.deps.log?.("warn", message);
  }

  /**
   * JobService hook, before a client job is stored: picks it for audit (and marks it
   * deterministic) with one draw, so audited jobs are a subset of deterministic ones.
   */
  async prepare(jobId: string, input: SubmitInput): Promise<JobRequest> {
    const { fraction, deterministicFraction } = this.settings;
    if (fraction <= 0 && deterministicFraction <= 0) return input.request;
    const r = this.random();
    const audit = r < fraction;
    if (audit) {
      this.audited.add(jobId);
      await this.repo.insertAudit({ id: jobId, kind: "audit", model: input.model, status: "waiting", createdAt: this.now() });
    }
    return audit || r < Math.max(fraction, deterministicFraction) ? { ...input.request, deterministic: true } : input.request;
  }

  /** A job reached a final state (any instance may call this; every step is compare-and-set). */
  async onJobFinished(jobId: string, finished?: JobRow): Promise<void> {
    const job = finished?.id === jobId ? finished : await this.repo.getJob(jobId);
    if (!job || !isFinished(job.status)) return;
    if (job.purpose === "client") {
      const audit = this.mayBeAudited(job) ? await this.repo.getAudit(job.id) : null;
      if (audit?.status === "waiting") await this.start(audit, job);
      this.audited.delete(job.id); // handled (a failed start stays for the sweep)
      if (job.status === "completed" && job.workerId && (!this.deps.instanceId || job.originInstance === this.deps.instanceId)) {
        if (this.settings.canaryFraction > 0 && this.random() < this.settings.canaryFraction)
          await this.sendCanary(job.workerId, job.model);
      }
      return;
    }
    const audit = await this.repo.findAuditByJob(jobId);
    if (!audit) return;
    if (audit.kind === "canary" && audit.status === "running") await this.judgeCanary(audit, job);
    else if (audit.auditJobId === jobId && audit.status === "running") await this.judgeRerun(audit, job);
    else if (audit.tiebreakJobId === jobId && audit.status === "tiebreak") await this.judgeTiebreak(audit, job);
  }

  /**
   * Whether a client job may have an audit. Only `prepare` on the job's own instance adds one,
   * before the job is stored, so a job submitted here since this instance started has one exactly
   * when it was picked; any other job is looked up.
   */
  private mayBeAudited(job: JobRow): boolean {
    const mine = this.deps.instanceId !== undefined && job.originInstance === this.deps.instanceId && job.createdAt >= this.startedAt;
    return !mine || this.audited.has(job.id);
  }

  /** Workers that may check `cls` results now: online, not revoked, not quarantined, not excluded. */
  private async peers(cls: string | null, exclude: (string | null)[]): Promise<WorkerRow[]> {
    const all = await this.repo.listWorkers();
    return all.filter(
      (w) =>
        w.status !== "offline" &&
        w.revokedAt === null &&
        w.quarantinedAt === null &&
        !exclude.includes(w.nodeId) &&
        workerClass(w.info) === cls,
    );
  }

  /** Closes the check with an outcome (compare-and-set on its status); null when another call did. */
  private async settle(
    audit: AuditRow,
    from: AuditRow["status"][],
    status: AuditRow["status"],
    detail: string,
    extra: Partial<Pick<AuditRow, "culprit" | "auditWorker" | "tiebreakWorker">> = {},
  ): Promise<AuditRow | null> {
    const done = await this.repo.updateAudit(audit.id, from, { status, detail, resolvedAt: this.now(), ...extra });
    if (done) this.deps.metrics?.audit(audit.kind, status);
    return done;
  }

  /** The client job finished: re-run it on another worker of its class, or skip. */
  private async start(audit: AuditRow, job: JobRow): Promise<void> {
    if (job.status !== "completed" || !job.workerId) {
      await this.settle(audit, ["waiting"], "skipped", `the job ended ${job.status}`);
      return;
    }
    const subject = await this.repo.getWorker(job.workerId);
    const cls = workerClass(subject?.info ?? null);
    if ((await this.peers(cls, [job.workerId])).length === 0) {
      await this.settle(audit, ["waiting"], "skipped", `no other ${cls} worker online to re-run it`);
      return;
    }
    const auditJobId = newJobId();
    const claimed = await this.repo.updateAudit(audit.id, ["waiting"], {
      status: "running",
      subjectWorker: job.workerId,
      workerClass: cls,
      auditJobId,
    });
    if (!claimed) return;
    await this.enqueue(auditJobId, "audit", job, { avoidWorkers: [job.workerId], workerClass: cls });
  }

  private async enqueue(
    id: string,
    purpose: "audit" | "canary",
    from: Pick<JobRow, "model" | "request" | "priority">,
    placement: { avoidWorkers?: string[]; targetWorker?: string; workerClass?: string | null },
  ): Promise<void> {
    await this.repo.enqueueJob({
      id,
      apiKeyId: null,
      model: from.model,
      request: from.request,
      priority: from.priority,
      maxAttempts: this.settings.maxAttempts,
      timeoutMs: this.settings.timeoutMs,
      originInstance: null,
      now: this.now(),
      purpose,
      ...placement,
    });
    await this.bus.publish({ kind: "job_available" });
  }

  /** The re-run finished: match, noise, or a disagreement that a third worker settles. */
  private async judgeRerun(audit: AuditRow, rerun: JobRow): Promise<void> {
    const original = await this.repo.getJob(audit.id);
    if (rerun.status !== "completed" || !original || !rerun.workerId) {
      await this.settle(audit, ["running"], "unresolved", `the re-run ended ${rerun.status}`);
      return;
    }
    const subject = audit.subjectWorker as string;
    const verdict = compareOutputs(original.resultText ?? "", rerun.resultText ?? "");
    if (verdict === "match") {
      if (await this.settle(audit, ["running"], "match", "identical", { auditWorker: rerun.workerId }))
        await this.credit([subject, rerun.workerId], [], `audit ${audit.id}`);
      return;
    }
    if (verdict === "inconclusive") {
      await this.settle(audit, ["running"], "inconclusive", "the outputs diverge late (numeric noise is possible)", {
        auditWorker: rerun.workerId,
      });
      return;
    }
    // Two answers, one of them wrong: a third worker of the class decides.
    if ((await this.peers(audit.workerClass, [subject, rerun.workerId])).length === 0) {
      const closed = await this.settle(
        audit,
        ["running"],
        "unresolved",
        "the outputs differ and no third worker is online; canaries sent to both",
        { auditWorker: rerun.workerId },
      );
      if (closed) {
        await this.sendCanary(subject, audit.model);
        await this.sendCanary(rerun.workerId, audit.model);
      }
      return;
    }
    const tiebreakJobId = newJobId();
    const claimed = await this.repo.updateAudit(audit.id, ["running"], { status: "tiebreak", auditWorker: rerun.workerId, tiebreakJobId });
    if (claimed)
      await this.enqueue(tiebreakJobId, "audit", original, { avoidWorkers: [subject, rerun.workerId], workerClass: audit.workerClass });
  }

  /** The third opinion: whoever it agrees with was right, the other one is the culprit. */
  private async judgeTiebreak(audit: AuditRow, third: JobRow): Promise<void> {
    const [original, rerun] = await Promise.all([this.repo.getJob(audit.id), this.repo.getJob(audit.auditJobId as string)]);
    if (third.status !== "completed" || !third.workerId || !original || !rerun) {
      await this.settle(audit, ["tiebreak"], "unresolved", `the tie-break ended ${third.status}`);
      return;
    }
    const subject = audit.subjectWorker as string;
    const auditor = audit.auditWorker as string;
    const withSubject = compareOutputs(third.resultText ?? "", original.resultText ?? "") !== "mismatch";
    const withAuditor = compareOutputs(third.resultText ?? "", rerun.resultText ?? "") !== "mismatch";
    if (withSubject === withAuditor) {
      const detail = withSubject ? "the third output agrees with both" : "all three outputs differ";
      await this.settle(audit, ["tiebreak"], "unresolved", detail, { tiebreakWorker: third.workerId });
      return;
    }
    const [culprit, right] = withSubject ? [auditor, subject] : [subject, auditor];
    // the culprit's result is discounted; the two that agree are credited with a match
    const closed = await this.settle(audit, ["tiebreak"], "mismatch", `the third worker agrees with ${right}`, {
      culprit,
      tiebreakWorker: third.workerId,
    });
    if (closed) await this.credit([right, third.workerId], [culprit], `audit ${audit.id}: output differs from two other workers'`);
  }

  /** Sends one of the model's canaries (for its class) to the worker, as an ordinary-looking job. */
  async sendCanary(nodeId: string, model: string): Promise<string | null> {
    const worker = await this.repo.getWorker(nodeId);
    if (!worker || worker.quarantinedAt !== null || worker.revokedAt !== null) return null;
    const cls = workerClass(worker.info);
    const options = (await this.repo.listCanaries(model)).filter((c) => c.workerClass === null || c.workerClass === cls);
    const canary = options[Math.floor(this.random() * options.length)];
    if (!canary) return null;
    const id = newJobId(); // the canary's audit and its job share the id
    await this.repo.insertAudit({
      id,
      kind: "canary",
      model,
      workerClass: cls,
      subjectWorker: nodeId,
      canaryId: canary.id,
      status: "running",
      createdAt: this.now(),
    });
    const request: JobRequest = {
      kind: "completion",
      prompt: canary.prompt,
      // what the OpenAI API resolves for temperature 0 with no other options
      params: {
        max_tokens: canary.maxTokens,
        temperature: 0,
        top_k: 0,
        top_p: 1,
        min_p: 0,
        repeat_penalty: 1,
        seed: Math.floor(this.random() * 0xffffffff),
        stop: [],
      },
      ...(this.random() < Math.max(this.settings.fraction, this.settings.deterministicFraction) ? { deterministic: true } : {}),
    };
    await this.enqueue(
      id,
      "canary",
      { model, request: request as unknown as Record<string, unknown>, priority: 50 },
      { targetWorker: nodeId },
    );
    return id;
  }

  private async judgeCanary(audit: AuditRow, job: JobRow): Promise<void> {
    const canary = audit.canaryId ? (await this.repo.listCanaries(audit.model)).find((c) => c.id === audit.canaryId) : undefined;
    if (job.status !== "completed" || !canary) {
      await this.settle(audit, ["running"], "unresolved", canary ? `the canary job ended ${job.status}` : "the canary was removed");
      return;
    }
    const subject = audit.subjectWorker as string;
    const verdict: Verdict = compareOutputs(canary.expected, job.resultText ?? "");
    if (verdict === "match") {
      if (await this.settle(audit, ["running"], "match", "the known answer")) await this.credit([subject], [], `canary ${canary.id}`);
    } else if (verdict === "inconclusive") {
      await this.settle(audit, ["running"], "inconclusive", "diverges late from the known answer");
    } else if (await this.settle(audit, ["running"], "mismatch", `differs from canary ${canary.id}'s known answer`, { culprit: subject })) {
      await this.credit([], [subject], `canary ${canary.id}: wrong answer to a known prompt`);
    }
  }

  /** Adds matches and mismatches to trust; logs and counts quarantines. */
  private async credit(matched: string[], mismatched: string[], reason: string): Promise<void> {
    const now = this.now();
    for (const [ids, delta] of [
      [matched, { matches: 1, mismatches: 0 }],
      [mismatched, { matches: 0, mismatches: 1 }],
    ] as const) {
      for (const id of ids) {
        const r = await this.repo.recordTrust(id, delta, this.policy, reason, now);
        if (r?.quarantined) {
          this.deps.metrics?.quarantined();
          this.deps.log?.("warn", `worker ${id} quarantined: trust ${r.worker.trust.toFixed(3)} after ${reason}`);
        }
      }
    }
  }

  /**
   * Settles what an event missed (a lost NOTIFY, a restart): open checks whose job has finished,
   * steps whose job never appeared, and checks open longer than `staleMs` (their jobs cancelled).
   */
  async sweep(): Promise<void> {
    const now = this.now();
    const open = await this.repo.listAudits({ status: ["waiting", "running", "tiebreak"], limit: 1000 });
    for (const audit of open) {
      const jobId =
        audit.status === "waiting" || audit.kind === "canary"
          ? audit.id
          : audit.status === "running"
            ? audit.auditJobId
            : audit.tiebreakJobId;
      const job = jobId ? await this.repo.getJob(jobId) : null;
      if (job && isFinished(job.status)) {
        await this.onJobFinished(job.id);
      } else if (!job && now - audit.createdAt > MISSING_JOB_GRACE_MS) {
        await this.settle(audit, [audit.status], audit.status === "waiting" ? "skipped" : "unresolved", "its job was never stored");
      } else if (job && audit.status !== "waiting" && now - audit.createdAt > this.settings.staleMs) {
        if (await this.settle(audit, [audit.status], "unresolved", "no worker finished the check in time"))
          await this.repo.cancelJob(job.id, now);
      }
    }
  }

  /** Lifts a quarantine (gogrid-admin workers release): the counts start afresh. */
  release(nodeId: string): Promise<boolean> {
    return this.repo.releaseWorker(nodeId, this.policy);
  }
}

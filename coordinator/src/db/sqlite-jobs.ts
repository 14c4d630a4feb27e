// The job queue on SQLite: leases, fencing, retries and expiry, each in one IMMEDIATE transaction.
import { and, asc, count, desc, eq, inArray, isNotNull, lte, or, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { notQuarantined, onlineWhere, placementWhere } from "./placement.ts";
import type { JobAttemptRow, JobFilter, JobResult, JobRow, JobStatus, LeaseRequest, NewJob } from "./repository.ts";
import * as rows from "./rows.ts";
import { jobAttempts, jobs, workers } from "./schema-sqlite.ts";

export type Db = BunSQLiteDatabase;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** An IMMEDIATE transaction: takes the write lock first, so concurrent writers wait (busy_timeout). */
export function immediate<T>(db: Db, fn: (tx: Tx) => T): T {
  return db.transaction(fn, { behavior: "immediate" });
}

export async function enqueueJob(db: Db, job: NewJob): Promise<JobRow> {
  const row = db
    .insert(jobs)
    .values({
      id: job.id,
      apiKeyId: job.apiKeyId,
      model: job.model,
      request: job.request,
      status: "queued",
      priority: job.priority ?? rows.DEFAULT_PRIORITY,
      attempts: 0,
      maxAttempts: job.maxAttempts ?? rows.DEFAULT_MAX_ATTEMPTS,
      availableAt: job.now,
      timeoutMs: job.timeoutMs,
      originInstance: job.originInstance,
      createdAt: job.now,
      updatedAt: job.now,
      purpose: job.purpose ?? "client",
      targetWorker: job.targetWorker ?? null,
      avoidWorkers: rows.encodeWorkerList(job.avoidWorkers),
      workerClass: job.workerClass ?? null,
    })
    .returning()
    .get();
  return rows.toJob(row);
}

export async function getJob(db: Db, id: string): Promise<JobRow | null> {
  const row = db.select().from(jobs).where(eq(jobs.id, id)).get();
  return row ? rows.toJob(row) : null;
}

export async function listJobs(db: Db, filter: JobFilter = {}): Promise<JobRow[]> {
  const where = and(
    filter.status && filter.status.length > 0 ? inArray(jobs.status, filter.status) : undefined,
    filter.workerId !== undefined ? eq(jobs.workerId, filter.workerId) : undefined,
  );
  const query = db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt), sql`rowid DESC`);
  return (filter.limit !== undefined ? query.limit(filter.limit).all() : query.all()).map(rows.toJob);
}

export async function leaseNextJob(db: Db, req: LeaseRequest): Promise<JobRow | null> {
  if (req.models.length === 0) return null;
  return immediate(db, (tx) => {
    const next = tx
      .select({ id: jobs.id })
      .from(jobs)
      .where(
        and(
          eq(jobs.status, "queued"),
          inArray(jobs.model, req.models),
          lte(jobs.availableAt, req.now),
          placementWhere(jobs, req),
          notQuarantined(workers, req.workerId),
        ),
      )
      .orderBy(desc(jobs.priority), asc(jobs.createdAt), sql`rowid`)
      .limit(1)
      .get();
    return next ? leaseQueued(tx, next.id, req) : null;
  });
}

export async function leaseJob(db: Db, jobId: string, req: LeaseRequest): Promise<JobRow | null> {
  return immediate(db, (tx) => leaseQueued(tx, jobId, req));
}

export async function extendLease(db: Db, jobId: string, fence: string, until: number): Promise<boolean> {
  const changed = db
    .update(jobs)
    .set({ leaseExpiresAt: until })
    .where(and(eq(jobs.id, jobId), eq(jobs.fence, fence), eq(jobs.status, "running")))
    .returning({ id: jobs.id })
    .all();
  return changed.length > 0;
}

export async function completeJob(db: Db, jobId: string, fence: string, result: JobResult, now: number): Promise<boolean> {
  return immediate(db, (tx) => {
    const done = tx
      .update(jobs)
      .set({
        status: "completed",
        resultText: result.text,
        finishReason: result.finishReason,
        promptTokens: result.promptTokens,
        completionTokens: result.completionTokens,
        error: null,
        leaseExpiresAt: null,
        finishedAt: now,
        updatedAt: now,
      })
      .where(and(eq(jobs.id, jobId), eq(jobs.fence, fence), eq(jobs.status, "running")))
      .returning({ id: jobs.id })
      .get();
    if (!done) return false;
    endAttempt(tx, jobId, fence, "completed", null, now);
    return true;
  });
}

export async function failAttempt(
  db: Db,
  jobId: string,
  fence: string,
  error: { code: string; message: string },
  retryAt: number,
  now: number,
): Promise<JobRow | null> {
  return immediate(db, (tx) => {
    const job = tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, jobId), eq(jobs.fence, fence), eq(jobs.status, "running")))
      .get();
    if (!job) return null;
    endAttempt(tx, jobId, fence, "failed", rows.attemptErrorText(error), now);
    const updated = tx
      .update(jobs)
      .set(rows.endAttemptPatch(job, error, retryAt, now))
      .where(eq(jobs.id, jobId))
      .returning()
      .get();
    return updated ? rows.toJob(updated) : null;
  });
}

export async function requeueExpired(db: Db, now: number, retryAt: (job: JobRow) => number): Promise<JobRow[]> {
  return immediate(db, (tx) => {
    const expired = tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.status, "running"), lte(jobs.leaseExpiresAt, now)))
      .orderBy(asc(jobs.leaseExpiresAt))
      .all();
    const out: JobRow[] = [];
    for (const record of expired) {
      const job = rows.toJob(record);
      const error = rows.leaseExpiredError(job);
      if (job.fence !== null) endAttempt(tx, job.id, job.fence, "expired", rows.attemptErrorText(error), now);
      const patch = rows.endAttemptPatch(job, error, retryAt(job), now);
      const updated = tx.update(jobs).set(patch).where(eq(jobs.id, job.id)).returning().get();
      if (updated) out.push(rows.toJob(updated));
    }
    return out;
  });
}

export async function cancelJob(db: Db, jobId: string, now: number): Promise<JobRow | null> {
  return immediate(db, (tx) => {
    const cancelled = tx
      .update(jobs)
      .set({ status: "cancelled", leaseExpiresAt: null, finishedAt: now, updatedAt: now })
      .where(and(eq(jobs.id, jobId), or(eq(jobs.status, "queued"), eq(jobs.status, "running"))))
      .returning()
      .get();
    if (!cancelled) return null;
    if (cancelled.fence !== null) endAttempt(tx, jobId, cancelled.fence, "cancelled", null, now);
    return rows.toJob(cancelled);
  });
}

export async function listAttempts(db: Db, jobId: string): Promise<JobAttemptRow[]> {
  return db.select().from(jobAttempts).where(eq(jobAttempts.jobId, jobId)).orderBy(asc(jobAttempts.attempt)).all().map(rows.toAttempt);
}

export async function countJobs(db: Db, status: JobStatus): Promise<number> {
  return db.select({ n: count() }).from(jobs).where(eq(jobs.status, status)).get()?.n ?? 0;
}

export async function hasPlacedJobs(db: Db, now: number): Promise<boolean> {
  const where = and(eq(jobs.status, "queued"), lte(jobs.availableAt, now), or(isNotNull(jobs.targetWorker), isNotNull(jobs.avoidWorkers)));
  return db.select({ id: jobs.id }).from(jobs).where(where).limit(1).get() !== undefined;
}

export async function countOnlineWorkers(db: Db): Promise<number> {
  return db.select({ n: count() }).from(workers).where(onlineWhere(workers)).get()?.n ?? 0;
}

/** Hands queued job `id` to `req.workerId`: running, attempts+1, new fence and lease, an attempt row. */
function leaseQueued(tx: Tx, id: string, req: LeaseRequest): JobRow | null {
  const leased = tx
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`${jobs.attempts} + 1`,
      workerId: req.workerId,
      fence: req.fence,
      leaseExpiresAt: req.now + req.leaseMs,
      startedAt: sql`coalesce(${jobs.startedAt}, ${req.now})`,
      updatedAt: req.now,
    })
    .where(and(eq(jobs.id, id), eq(jobs.status, "queued")))
    .returning()
    .get();
  if (!leased) return null;
  tx.insert(jobAttempts)
    .values({ jobId: id, attempt: leased.attempts, workerId: req.workerId, fence: req.fence, startedAt: req.now, outcome: "running" })
    .run();
  return rows.toJob(leased);
}

/** Closes the running attempt that holds `fence`. */
function endAttempt(tx: Tx, jobId: string, fence: string, outcome: JobAttemptRow["outcome"], error: string | null, now: number): void {
  tx.update(jobAttempts)
    .set({ outcome, error, endedAt: now })
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.fence, fence), eq(jobAttempts.outcome, "running")))
    .run();
}

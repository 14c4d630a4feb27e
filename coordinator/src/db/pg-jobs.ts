// The job queue on Postgres: enqueue, fencing, retries and expiry (the lease and completion: pg-lease.ts).
import { and, asc, count, desc, eq, inArray, isNotNull, lte, or } from "drizzle-orm";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { onlineWhere } from "./placement.ts";
import type { JobAttemptRow, JobFilter, JobRow, JobStatus, NewJob } from "./repository.ts";
import * as rows from "./rows.ts";
import { jobAttempts, jobs, workers } from "./schema-pg.ts";

export type Db = PostgresJsDatabase;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export async function enqueueJob(db: Db, job: NewJob): Promise<JobRow> {
  const [row] = await db
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
    .returning();
  return rows.toJob(row!);
}

export async function getJob(db: Db, id: string): Promise<JobRow | null> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row ? rows.toJob(row) : null;
}

export async function listJobs(db: Db, filter: JobFilter = {}): Promise<JobRow[]> {
  const where = and(
    filter.status && filter.status.length > 0 ? inArray(jobs.status, filter.status) : undefined,
    filter.workerId !== undefined ? eq(jobs.workerId, filter.workerId) : undefined,
  );
  const query = db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt), desc(jobs.seq));
  return (filter.limit !== undefined ? await query.limit(filter.limit) : await query).map(rows.toJob);
}

export async function extendLease(db: Db, jobId: string, fence: string, until: number): Promise<boolean> {
  const changed = await db
    .update(jobs)
    .set({ leaseExpiresAt: until })
    .where(and(eq(jobs.id, jobId), eq(jobs.fence, fence), eq(jobs.status, "running")))
    .returning({ id: jobs.id });
  return changed.length > 0;
}

export async function failAttempt(
  db: Db,
  jobId: string,
  fence: string,
  error: { code: string; message: string },
  retryAt: number,
  now: number,
): Promise<JobRow | null> {
  return db.transaction(async (tx) => {
    const [job] = await tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, jobId), eq(jobs.fence, fence), eq(jobs.status, "running")))
      .for("update");
    if (!job) return null;
    await endAttempt(tx, jobId, fence, "failed", rows.attemptErrorText(error), now);
    const [updated] = await tx
      .update(jobs)
      .set(rows.endAttemptPatch(job, error, retryAt, now))
      .where(eq(jobs.id, jobId))
      .returning();
    return updated ? rows.toJob(updated) : null;
  });
}

export async function requeueExpired(db: Db, now: number, retryAt: (job: JobRow) => number): Promise<JobRow[]> {
  return db.transaction(async (tx) => {
    // Skip rows being completed or requeued by someone else right now; the next sweep sees them.
    const expired = await tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.status, "running"), lte(jobs.leaseExpiresAt, now)))
      .orderBy(asc(jobs.leaseExpiresAt))
      .for("update", { skipLocked: true });
    const out: JobRow[] = [];
    for (const record of expired) {
      const job = rows.toJob(record);
      const error = rows.leaseExpiredError(job);
      if (job.fence !== null) await endAttempt(tx, job.id, job.fence, "expired", rows.attemptErrorText(error), now);
      const patch = rows.endAttemptPatch(job, error, retryAt(job), now);
      const [updated] = await tx.update(jobs).set(patch).where(eq(jobs.id, job.id)).returning();
      if (updated) out.push(rows.toJob(updated));
    }
    return out;
  });
}

export async function cancelJob(db: Db, jobId: string, now: number): Promise<JobRow | null> {
  return db.transaction(async (tx) => {
    const [cancelled] = await tx
      .update(jobs)
      .set({ status: "cancelled", leaseExpiresAt: null, finishedAt: now, updatedAt: now })
      .where(and(eq(jobs.id, jobId), or(eq(jobs.status, "queued"), eq(jobs.status, "running"))))
      .returning();
    if (!cancelled) return null;
    if (cancelled.fence !== null) await endAttempt(tx, jobId, cancelled.fence, "cancelled", null, now);
    return rows.toJob(cancelled);
  });
}

export async function listAttempts(db: Db, jobId: string): Promise<JobAttemptRow[]> {
  return (await db.select().from(jobAttempts).where(eq(jobAttempts.jobId, jobId)).orderBy(asc(jobAttempts.attempt))).map(rows.toAttempt);
}

export async function countJobs(db: Db, status: JobStatus): Promise<number> {
  const [row] = await db.select({ n: count() }).from(jobs).where(eq(jobs.status, status));
  return row?.n ?? 0;
}

export async function hasPlacedJobs(db: Db, now: number): Promise<boolean> {
  const where = and(eq(jobs.status, "queued"), lte(jobs.availableAt, now), or(isNotNull(jobs.targetWorker), isNotNull(jobs.avoidWorkers)));
  return (await db.select({ id: jobs.id }).from(jobs).where(where).limit(1)).length > 0;
}

export async function countOnlineWorkers(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(workers).where(onlineWhere(workers));
  return row?.n ?? 0;
}

/** Closes the running attempt that holds `fence`. */
async function endAttempt(
  tx: Tx,
  jobId: string,
  fence: string,
  outcome: JobAttemptRow["outcome"],
  error: string | null,
  now: number,
): Promise<void> {
  await tx
    .update(jobAttempts)
    .set({ outcome, error, endedAt: now })
    .where(and(eq(jobAttempts.jobId, jobId), eq(jobAttempts.fence, fence), eq(jobAttempts.outcome, "running")));
}

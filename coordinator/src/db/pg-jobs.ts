// The job queue on Postgres: listing, retries, expiry and cancel (the per-job statements: pg-lease.ts).
import { and, asc, count, desc, eq, inArray, lte, or } from "drizzle-orm";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { finishedBefore } from "./finished.ts";
import { onlineWhere } from "./placement.ts";
import type { JobAttemptRow, JobFilter, JobRow } from "./repository.ts";
import * as rows from "./rows.ts";
import { jobAttempts, jobs, workers } from "./schema-pg.ts";

export type Db = PostgresJsDatabase;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export async function listJobs(db: Db, filter: JobFilter = {}): Promise<JobRow[]> {
  const where = and(
    filter.status && filter.status.length > 0 ? inArray(jobs.status, filter.status) : undefined,
    filter.workerId !== undefined ? eq(jobs.workerId, filter.workerId) : undefined,
  );
  const query = db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt), desc(jobs.seq));
  return (filter.limit !== undefined ? await query.limit(filter.limit) : await query).map(rows.toJob);
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

export async function deleteFinishedJobs(db: Db, before: number, limit: number): Promise<number> {
  // oldest first; rows another instance is deleting are skipped, not waited for
  const old = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(finishedBefore(jobs, before, "postgres"))
    .orderBy(asc(jobs.createdAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  return (await db.delete(jobs).where(inArray(jobs.id, old)).returning({ id: jobs.id })).length;
}

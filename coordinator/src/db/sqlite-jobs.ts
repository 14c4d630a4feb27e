// The job queue on SQLite: leases, fencing, retries and expiry, each in one IMMEDIATE transaction.

import type { Database } from "bun:sqlite";
import { and, asc, count, desc, eq, inArray, isNotNull, lte, or, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { JOB_STATUSES } from "./enums.ts";
import { finishedBefore } from "./finished.ts";
import { memberPattern, notQuarantined, onlineWhere, placementWhere } from "./placement.ts";
import {
  type JobAttemptRow,
  type JobFilter,
  type JobResult,
  type JobRow,
  type JobStatus,
  type LeaseBatchRequest,
  type LeaseRequest,
  type NewJob,
  oneJobLease,
} from "./repository.ts";
import * as rows from "./rows.ts";
import { jobAttempts, jobs, workers } from "./schema-sqlite.ts";
import { perDatabase } from "./sqlite-statements.ts";

/** drizzle over bun:sqlite, with its connection (drizzle() returns both). */
export type Db = BunSQLiteDatabase & { $client: Database };
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/**
 * An IMMEDIATE transaction: takes the write lock first, so concurrent writers wait (busy_timeout).
 * Inside the repository's group commit (sqlite-group-commit.ts) each call already runs in a
 * transaction and a savepoint of its own, which undoes the call on failure: there `fn` runs as it
 * is, without the two statements of a nested savepoint.
 */
export function immediate<T>(db: Db, fn: (tx: Tx) => T): T {
  if (db.$client.inTransaction) return fn(db as unknown as Tx);
  return db.transaction(fn, { behavior: "immediate" });
}

const p = sql.placeholder;

/**
 * A placeholder the query planner cannot read (`+?`, the same value). SQLite's planner looks at
 * some bound values (a LIKE pattern, a LIMIT, the equalities in front of an ORDER BY ... LIMIT
 * that an index answers) and marks the statement to be compiled again whenever they are bound
 * anew: the lease's `next` took ~13 µs a run so, 0.4 µs without (issue 9; this VM, in a transaction).
 */
const opaque = (name: string) => sql`+${p(name)}`;
/** LIMIT 1 in the SQL text: drizzle binds a number, which the planner reads too (see `opaque`); its limit() takes SQL as well. */
const LIMIT_ONE = sql`1` as unknown as number;

/**
 * The statements every job runs (submit, lease, complete), built once per database: drizzle
 * builds a query's SQL on every call, which cost more than SQLite running it (issue 9: ~60% of
 * the coordinator's CPU at 300 jobs/s). Prepared on the one connection, so they also run inside
 * `immediate` transactions.
 */
function buildStatements(db: Db) {
  const countIn = (status: JobStatus) =>
    db
      .select({ n: count() })
      .from(jobs)
      .where(sql`${jobs.status} = ${sql.raw(`'${status}'`)}`)
      .prepare();
  const placement = placementWhere(jobs, { workerId: opaque("worker"), workerClass: opaque("cls"), member: opaque("member") });
  return {
    insert: db.insert(jobs).values(rows.JOB_INSERT_VALUES).returning().prepare(),
    get: db
      .select()
      .from(jobs)
      .where(eq(jobs.id, p("id")))
      .prepare(),
    // one model per run: with an IN list SQLite sorts every matching queued job; per model the
    // index gives the best one directly (the lease compares the few candidates)
    next: db
      .select({ id: jobs.id, priority: jobs.priority, createdAt: jobs.createdAt, rowid: sql<number>`rowid` })
      .from(jobs)
      .where(
        and(
          sql`${jobs.status} = 'queued'`,
          eq(jobs.model, opaque("model")),
          lte(jobs.availableAt, opaque("now")),
          placement,
          notQuarantined(workers, opaque("worker")),
        ),
      )
      .orderBy(desc(jobs.priority), asc(jobs.createdAt), sql`rowid`)
      .limit(LIMIT_ONE)
      .prepare(),
    lease: db
      .update(jobs)
      .set({
        status: "running",
        attempts: sql`${jobs.attempts} + 1`,
        workerId: sql`${p("worker")}`,
        fence: sql`${p("fence")}`,
        leaseExpiresAt: sql`${p("until")}`,
        startedAt: sql`coalesce(${jobs.startedAt}, ${p("now")})`,
        updatedAt: sql`${p("now")}`,
      })
      .where(and(eq(jobs.id, p("id")), eq(jobs.status, "queued")))
      .returning()
      .prepare(),
    addAttempt: db
      .insert(jobAttempts)
      .values({ jobId: p("id"), attempt: p("attempt"), workerId: p("worker"), fence: p("fence"), startedAt: p("now"), outcome: "running" })
      .prepare(),
    extend: db
      .update(jobs)
      .set({ leaseExpiresAt: sql`${p("until")}` })
      .where(and(eq(jobs.id, p("id")), eq(jobs.fence, p("fence")), eq(jobs.status, "running")))
      .returning({ id: jobs.id })
      .prepare(),
    complete: db
      .update(jobs)
      .set({
        status: "completed",
        resultText: sql`${p("text")}`,
        finishReason: sql`${p("finishReason")}`,
        promptTokens: sql`${p("promptTokens")}`,
        completionTokens: sql`${p("completionTokens")}`,
        error: null,
        leaseExpiresAt: null,
        finishedAt: sql`${p("now")}`,
        updatedAt: sql`${p("now")}`,
        // completed without its ledger entry: the reconciler's to credit (schema-sqlite.ts)
        creditPending: sql`case when ${p("pending")} and ${jobs.purpose} = 'client' and ${p("completionTokens")} > 0 then 1 end`,
      })
      .where(and(eq(jobs.id, p("id")), eq(jobs.fence, p("fence")), eq(jobs.status, "running")))
      .returning()
      .prepare(),
    endAttempt: db
      .update(jobAttempts)
      .set({ outcome: sql`${p("outcome")}`, error: sql`${p("error")}`, endedAt: sql`${p("now")}` })
      .where(and(eq(jobAttempts.jobId, p("id")), eq(jobAttempts.fence, p("fence")), eq(jobAttempts.outcome, "running")))
      .prepare(),
    // every tick: the running jobs whose lease ran out, along jobs_running_expiry_idx
    expired: db
      .select()
      .from(jobs)
      .where(and(sql`${jobs.status} = 'running'`, lte(jobs.leaseExpiresAt, opaque("now"))))
      .orderBy(asc(jobs.leaseExpiresAt))
      .prepare(),
    // one per status, written into the text: a partial index (schema-sqlite.ts) answers the queued and running counts
    count: new Map(JOB_STATUSES.map((status) => [status, countIn(status)])),
    placed: db
      .select({ id: jobs.id })
      .from(jobs)
      .where(
        and(eq(jobs.status, "queued"), lte(jobs.availableAt, p("now")), or(isNotNull(jobs.targetWorker), isNotNull(jobs.avoidWorkers))),
      )
      .limit(LIMIT_ONE)
      .prepare(),
  };
}

const statements = perDatabase(buildStatements);

/** Queries as SQLite runs them, for sqlite-plans.test.ts to read their text and plan. */
export function plannedQueries(
  db: Db,
): Record<"leaseCandidate" | "expired" | "countQueued" | "countRunning", { sql: string; params: unknown[] }> {
  const st = statements(db);
  const count = (status: JobStatus) => (st.count.get(status) as NonNullable<ReturnType<typeof st.count.get>>).getQuery();
  return {
    leaseCandidate: st.next.getQuery(),
    expired: st.expired.getQuery(),
    countQueued: count("queued"),
    countRunning: count("running"),
  };
}

export async function enqueueJob(db: Db, job: NewJob): Promise<JobRow> {
  const row = statements(db).insert.get(rows.jobInsertParams(job));
  return rows.toJob(row as typeof jobs.$inferSelect);
}

export async function getJob(db: Db, id: string): Promise<JobRow | null> {
  const row = statements(db).get.get({ id });
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
  return leaseBatch(db, oneJobLease(req))[0] ?? null;
}

export async function leaseNextJobs(db: Db, req: LeaseBatchRequest): Promise<JobRow[]> {
  return leaseBatch(db, req);
}

function leaseBatch(db: Db, req: LeaseBatchRequest): JobRow[] {
  if (req.models.length === 0 || req.fences.length === 0) return [];
  const st = statements(db);
  const params = { now: req.now, worker: req.workerId, cls: req.workerClass ?? null, member: memberPattern(req.workerId) };
  const models = [...new Set(req.models)];
  return immediate(db, () => {
    const out: JobRow[] = [];
    for (const fence of req.fences) {
      // each model's best, then the best of those in the index's order (a leased job is no longer queued)
      const best = models
        .map((model) => st.next.get({ ...params, model }))
        .filter((c) => c !== undefined)
        .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || a.rowid - b.rowid)[0];
      const job = best ? leaseQueued(db, best.id, { ...req, fence }) : null;
      if (!job) break;
      out.push(job);
    }
    return out;
  });
}

export async function leaseJob(db: Db, jobId: string, req: LeaseRequest): Promise<JobRow | null> {
  return immediate(db, () => leaseQueued(db, jobId, req));
}

export async function extendLease(db: Db, jobId: string, fence: string, until: number): Promise<boolean> {
  return statements(db).extend.all({ id: jobId, fence, until }).length > 0;
}

export async function completeJob(db: Db, jobId: string, fence: string, result: JobResult, now: number): Promise<JobRow | null> {
  return immediate(db, () => completeRunning(db, jobId, fence, result, now, true));
}

/** completeJob's statements, inside the caller's transaction; `creditPending`: no ledger entry is written with it. */
export function completeRunning(
  db: Db,
  jobId: string,
  fence: string,
  result: JobResult,
  now: number,
  creditPending: boolean,
): JobRow | null {
  const st = statements(db);
  const done = st.complete.get({
    id: jobId,
    fence,
    now,
    pending: creditPending ? 1 : 0,
    text: result.text,
    finishReason: result.finishReason,
    promptTokens: result.promptTokens,
    completionTokens: result.completionTokens,
  });
  if (!done) return null;
  st.endAttempt.run({ id: jobId, fence, outcome: "completed", error: null, now });
  return rows.toJob(done);
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
    endAttempt(db, jobId, fence, "failed", rows.attemptErrorText(error), now);
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
    const expired = statements(db).expired.all({ now });
    const out: JobRow[] = [];
    for (const record of expired) {
      const job = rows.toJob(record);
      const error = rows.leaseExpiredError(job);
      if (job.fence !== null) endAttempt(db, job.id, job.fence, "expired", rows.attemptErrorText(error), now);
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
    if (cancelled.fence !== null) endAttempt(db, jobId, cancelled.fence, "cancelled", null, now);
    return rows.toJob(cancelled);
  });
}

export async function listAttempts(db: Db, jobId: string): Promise<JobAttemptRow[]> {
  return db.select().from(jobAttempts).where(eq(jobAttempts.jobId, jobId)).orderBy(asc(jobAttempts.attempt)).all().map(rows.toAttempt);
}

export async function deleteFinishedJobs(db: Db, before: number, limit: number): Promise<number> {
  // oldest first; their attempts go with them (ON DELETE CASCADE)
  const old = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(finishedBefore(jobs, before, "sqlite"))
    .orderBy(asc(jobs.createdAt))
    .limit(limit);
  return db.delete(jobs).where(inArray(jobs.id, old)).returning({ id: jobs.id }).all().length;
}

export async function countJobs(db: Db, status: JobStatus): Promise<number> {
  const statement = statements(db).count.get(status);
  if (!statement) throw new RangeError(`unknown job status "${status}"`);
  return statement.get()?.n ?? 0;
}

export async function hasPlacedJobs(db: Db, now: number): Promise<boolean> {
  return statements(db).placed.get({ now }) !== undefined;
}

export async function countOnlineWorkers(db: Db): Promise<number> {
  return db.select({ n: count() }).from(workers).where(onlineWhere(workers)).get()?.n ?? 0;
}

/** Hands queued job `id` to `req.workerId`: running, attempts+1, new fence and lease, an attempt row. */
function leaseQueued(db: Db, id: string, req: LeaseRequest): JobRow | null {
  const st = statements(db);
  const leased = st.lease.get({ id, worker: req.workerId, fence: req.fence, until: req.now + req.leaseMs, now: req.now });
  if (!leased) return null;
  st.addAttempt.run({ id, attempt: leased.attempts, worker: req.workerId, fence: req.fence, now: req.now });
  return rows.toJob(leased);
}

/** Closes the running attempt that holds `fence`. */
function endAttempt(db: Db, jobId: string, fence: string, outcome: JobAttemptRow["outcome"], error: string | null, now: number): void {
  statements(db).endAttempt.run({ id: jobId, fence, outcome, error, now });
}

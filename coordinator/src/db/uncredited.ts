// Completed client jobs still owed their credit: completed without it (the price unreadable, or by completeJob alone).
import { and, eq, gt, gte, isNull, lt, type SQL, sql } from "drizzle-orm";
import type { Db as PgDb } from "./pg-jobs.ts";
import type { UncreditedJob, UncreditedQuery } from "./repository.ts";
import * as pg from "./schema-pg.ts";
import * as lite from "./schema-sqlite.ts";
import type { Db as LiteDb } from "./sqlite-jobs.ts";

/** Only jobs marked as owed their credit (jobs.credit_pending, set when a job completes without it): a few, along their partial index. */
function where(t: typeof lite | typeof pg, q: UncreditedQuery, pending: SQL) {
  return and(
    pending,
    eq(t.jobs.status, "completed"),
    eq(t.jobs.purpose, "client"),
    gt(t.jobs.completionTokens, 0),
    gte(t.jobs.finishedAt, q.since),
    lt(t.jobs.finishedAt, q.until),
    isNull(t.earningsLedger.jobId),
    isNull(t.workers.quarantinedAt),
  );
}

export async function uncreditedSqlite(db: LiteDb, q: UncreditedQuery): Promise<UncreditedJob[]> {
  return uncreditedSqliteQuery(db, q).all();
}

/** The SQLite query (sqlite-plans.test.ts reads its plan). */
export function uncreditedSqliteQuery(db: LiteDb, q: UncreditedQuery) {
  const t = lite;
  return db
    .select({ id: t.jobs.id, workerId: t.workers.nodeId })
    .from(t.jobs)
    .innerJoin(t.workers, eq(t.workers.nodeId, t.jobs.workerId))
    .leftJoin(t.earningsLedger, eq(t.earningsLedger.jobId, t.jobs.id))
    .where(where(t, q, sql`${t.jobs.creditPending} = 1`))
    .limit(q.limit);
}

export async function uncreditedPg(db: PgDb, q: UncreditedQuery): Promise<UncreditedJob[]> {
  const t = pg;
  return db
    .select({ id: t.jobs.id, workerId: t.workers.nodeId })
    .from(t.jobs)
    .innerJoin(t.workers, eq(t.workers.nodeId, t.jobs.workerId))
    .leftJoin(t.earningsLedger, eq(t.earningsLedger.jobId, t.jobs.id))
    .where(where(t, q, sql`${t.jobs.creditPending}`))
    .limit(q.limit);
}

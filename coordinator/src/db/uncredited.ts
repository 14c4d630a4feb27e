// Completed client jobs that were never credited (a coordinator killed between completing a job and crediting it).
import { and, eq, gt, gte, isNull, lt } from "drizzle-orm";
import type { Db as PgDb } from "./pg-jobs.ts";
import type { UncreditedJob, UncreditedQuery } from "./repository.ts";
import * as pg from "./schema-pg.ts";
import * as lite from "./schema-sqlite.ts";
import type { Db as LiteDb } from "./sqlite-jobs.ts";

function where(t: typeof lite | typeof pg, q: UncreditedQuery) {
  return and(
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
  const t = lite;
  return db
    .select({ id: t.jobs.id, workerId: t.workers.nodeId })
    .from(t.jobs)
    .innerJoin(t.workers, eq(t.workers.nodeId, t.jobs.workerId))
    .leftJoin(t.earningsLedger, eq(t.earningsLedger.jobId, t.jobs.id))
    .where(where(t, q))
    .limit(q.limit)
    .all();
}

export async function uncreditedPg(db: PgDb, q: UncreditedQuery): Promise<UncreditedJob[]> {
  const t = pg;
  return db
    .select({ id: t.jobs.id, workerId: t.workers.nodeId })
    .from(t.jobs)
    .innerJoin(t.workers, eq(t.workers.nodeId, t.jobs.workerId))
    .leftJoin(t.earningsLedger, eq(t.earningsLedger.jobId, t.jobs.id))
    .where(where(t, q))
    .limit(q.limit);
}

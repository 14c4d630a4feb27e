// The Postgres lease and completion as single statements (issue 10): one round trip each instead of a transaction of four or five.
import { and, eq, getTableColumns, inArray, lte, sql } from "drizzle-orm";
import type { Db } from "./pg-jobs.ts";
import { notQuarantined, placementWhere } from "./placement.ts";
import type { JobResult, JobRow, LeaseRequest } from "./repository.ts";
import * as rows from "./rows.ts";
import { jobAttempts, jobs, workers } from "./schema-pg.ts";

const JOB_COLUMNS = Object.entries(getTableColumns(jobs));

/** A `returning *` row of jobs (column names, driver values) as drizzle would have mapped it. */
function jobFromRaw(raw: Record<string, unknown>): typeof jobs.$inferSelect {
  const out: Record<string, unknown> = {};
  for (const [key, column] of JOB_COLUMNS) {
    const v = raw[column.name];
    out[key] = v === null || v === undefined ? null : column.mapFromDriverValue(v);
  }
  return out as typeof jobs.$inferSelect;
}

/**
 * Picks the best queued job the worker may run (rows other coordinators hold are skipped, not
 * waited for), leases it and adds its attempt row, all in one statement: atomic like the
 * transaction it replaces, and the update re-checks `status = 'queued'` under the row lock.
 */
export async function leaseNextJob(db: Db, req: LeaseRequest): Promise<JobRow | null> {
  if (req.models.length === 0) return null;
  const where = and(
    eq(jobs.status, "queued"),
    inArray(jobs.model, req.models),
    lte(jobs.availableAt, req.now),
    placementWhere(jobs, req),
    notQuarantined(workers, req.workerId),
  );
  return leaseWhere(
    db,
    sql`(select ${jobs.id} from ${jobs} where ${where} order by ${jobs.priority} desc nulls last, ${jobs.createdAt}, ${jobs.seq} limit 1 for update skip locked)`,
    req,
  );
}

/** Leases one specific queued job; null when it is no longer queued. */
export async function leaseJob(db: Db, jobId: string, req: LeaseRequest): Promise<JobRow | null> {
  return leaseWhere(db, sql`(select ${jobId}::text as id)`, req);
}

async function leaseWhere(db: Db, pick: ReturnType<typeof sql>, req: LeaseRequest): Promise<JobRow | null> {
  const found = await db.execute(sql`
    with next as ${pick},
    leased as (
      update ${jobs} set "status" = 'running', "attempts" = ${jobs.attempts} + 1, "worker_id" = ${req.workerId},
        "fence" = ${req.fence}, "lease_expires_at" = ${req.now + req.leaseMs},
        "started_at" = coalesce(${jobs.startedAt}, ${req.now}), "updated_at" = ${req.now}
      from next where ${jobs.id} = next.id and ${jobs.status} = 'queued'
      returning ${jobs}.*
    ),
    attempt as (
      insert into ${jobAttempts} ("job_id", "attempt", "worker_id", "fence", "started_at", "outcome")
      select "id", "attempts", ${req.workerId}::text, ${req.fence}::text, ${req.now}::bigint, 'running' from leased
    )
    select * from leased`);
  const raw = (found as unknown as Record<string, unknown>[])[0];
  return raw ? rows.toJob(jobFromRaw(raw)) : null;
}

/** Completes the job and closes its attempt in one statement if `fence` is still current. */
export async function completeJob(db: Db, jobId: string, fence: string, result: JobResult, now: number): Promise<boolean> {
  const found = await db.execute(sql`
    with done as (
      update ${jobs} set "status" = 'completed', "result_text" = ${result.text}, "finish_reason" = ${result.finishReason},
        "prompt_tokens" = ${result.promptTokens}, "completion_tokens" = ${result.completionTokens}, "error" = null,
        "lease_expires_at" = null, "finished_at" = ${now}, "updated_at" = ${now}
      where ${jobs.id} = ${jobId} and ${jobs.fence} = ${fence} and ${jobs.status} = 'running'
      returning ${jobs.id}
    ),
    ended as (
      update ${jobAttempts} set "outcome" = 'completed', "error" = null, "ended_at" = ${now}
      where ${jobAttempts.jobId} in (select "id" from done) and ${jobAttempts.fence} = ${fence} and ${jobAttempts.outcome} = 'running'
    )
    select count(*)::int as n from done`);
  return Number((found as unknown as { n: number }[])[0]?.n ?? 0) > 0;
}

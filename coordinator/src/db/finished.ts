// Finished jobs past their retention (jobs.retention_days): the same condition on both stores.
import { and, inArray, lt, type SQL, sql } from "drizzle-orm";
import { FINISHED_JOB_STATUSES } from "./enums.ts";
import type * as pg from "./schema-pg.ts";
import type * as lite from "./schema-sqlite.ts";

/**
 * Jobs that ended before `before`, to be read oldest first along jobs_created_idx (`created_at <
 * before` as well: a job ends after it is created). SQLite, while an index of jobs led with status,
 * would rather answer `status IN (…)` from it and sort every finished job for each batch (27 ms
 * for 200 of 20,000, and growing with the table); `+status`, its way of saying "not from an
 * index", keeps it on jobs_created_idx whatever indexes come. Postgres picks that index by itself.
 */
export function finishedBefore(t: typeof lite.jobs | typeof pg.jobs, before: number, dialect: "sqlite" | "postgres"): SQL | undefined {
  const status = dialect === "sqlite" ? sql`+${t.status}` : sql`${t.status}`;
  return and(lt(t.createdAt, before), inArray(status, [...FINISHED_JOB_STATUSES]), lt(t.finishedAt, before));
}

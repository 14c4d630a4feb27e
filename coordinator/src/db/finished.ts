// Finished jobs past their retention (jobs.retention_days): the same condition on both stores.
import { and, inArray, lt } from "drizzle-orm";
import { FINISHED_JOB_STATUSES } from "./enums.ts";
import type * as pg from "./schema-pg.ts";
import type * as lite from "./schema-sqlite.ts";

/**
 * Jobs that ended before `before`. `created_at < before` as well (a job ends after it is created),
 * so the oldest are found along jobs_created_idx instead of by reading the whole table.
 */
export function finishedBefore(t: typeof lite.jobs | typeof pg.jobs, before: number) {
  return and(lt(t.createdAt, before), inArray(t.status, FINISHED_JOB_STATUSES), lt(t.finishedAt, before));
}

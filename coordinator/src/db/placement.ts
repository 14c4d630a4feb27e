// Where a job may run (issue 9): one target worker, workers it avoids, one worker class, no quarantine; both dialects.
import { type AnyColumn, type SQL, sql } from "drizzle-orm";

export interface PlacementColumns {
  targetWorker: AnyColumn;
  avoidWorkers: AnyColumn;
  workerClass: AnyColumn;
}

/** LIKE pattern text with its wildcards (and the escape character) taken literally. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The LIKE pattern that finds `workerId` in an avoid list (",a,b,"). */
export function memberPattern(workerId: string): string {
  return `%,${likeLiteral(workerId)},%`;
}

/** A lease's worker as values or placeholders: its id, its class (null: none), memberPattern(id). */
interface PlacementParams {
  workerId: unknown;
  workerClass: unknown;
  member: unknown;
}

/**
 * The jobs a worker may lease: no target or itself, not avoided, no class or its class (a worker
 * without a class, NULL, matches only jobs without one: `= NULL` is never true).
 */
export function placementWhere(t: PlacementColumns, w: PlacementParams): SQL {
  return sql`(${t.targetWorker} is null or ${t.targetWorker} = ${w.workerId}) and (${t.avoidWorkers} is null or ${t.avoidWorkers} not like ${w.member} escape '\\') and (${t.workerClass} is null or ${t.workerClass} = ${w.workerClass})`;
}

export interface WorkerStateColumns {
  nodeId: AnyColumn;
  status: AnyColumn;
  revokedAt: AnyColumn;
  quarantinedAt: AnyColumn;
}

/** The lease's guard: no job for a worker while it is quarantined (unknown workers are not refused here). */
export function notQuarantined(w: WorkerStateColumns & { _: { name: string } }, workerId: unknown): SQL {
  return sql`not exists (select 1 from ${w} where ${w.nodeId} = ${workerId} and ${w.quarantinedAt} is not null)`;
}

/** Workers that can take jobs: online, not revoked, not quarantined. */
export function onlineWhere(w: WorkerStateColumns): SQL {
  return sql`${w.status} <> 'offline' and ${w.revokedAt} is null and ${w.quarantinedAt} is null`;
}

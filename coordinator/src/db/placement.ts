// Where a job may run (issue 9): one target worker, workers it avoids, one worker class, no quarantine; both dialects.
import { type AnyColumn, type SQL, sql } from "drizzle-orm";
import type { LeaseRequest } from "./repository.ts";

export interface PlacementColumns {
  targetWorker: AnyColumn;
  avoidWorkers: AnyColumn;
  workerClass: AnyColumn;
}

/** LIKE pattern text with its wildcards (and the escape character) taken literally. */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The jobs `req.workerId` may lease: no target or itself, not avoided, no class or its class. */
export function placementWhere(t: PlacementColumns, req: Pick<LeaseRequest, "workerId" | "workerClass">): SQL {
  const member = `%,${likeLiteral(req.workerId)},%`;
  const cls =
    req.workerClass === undefined
      ? sql`${t.workerClass} is null`
      : sql`(${t.workerClass} is null or ${t.workerClass} = ${req.workerClass})`;
  return sql`(${t.targetWorker} is null or ${t.targetWorker} = ${req.workerId}) and (${t.avoidWorkers} is null or ${t.avoidWorkers} not like ${member} escape '\\') and ${cls}`;
}

export interface WorkerStateColumns {
  nodeId: AnyColumn;
  status: AnyColumn;
  revokedAt: AnyColumn;
  quarantinedAt: AnyColumn;
}

/** The lease's guard: no job for a worker while it is quarantined (unknown workers are not refused here). */
export function notQuarantined(w: WorkerStateColumns & { _: { name: string } }, workerId: string): SQL {
  return sql`not exists (select 1 from ${w} where ${w.nodeId} = ${workerId} and ${w.quarantinedAt} is not null)`;
}

/** Workers that can take jobs: online, not revoked, not quarantined. */
export function onlineWhere(w: WorkerStateColumns): SQL {
  return sql`${w.status} <> 'offline' and ${w.revokedAt} is null and ${w.quarantinedAt} is null`;
}

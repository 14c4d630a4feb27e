// Where a job may run (issue 9): one target worker, workers it avoids, one worker class; both dialects.
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

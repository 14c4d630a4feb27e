// The closed value sets of status columns, shared by both schemas and the row mapping.
import type { AuditKind, AuditStatus, JobAttemptRow, JobPurpose, JobStatus, WorkerStatus } from "./repository.ts";

export const WORKER_STATUSES = ["online", "idle", "busy", "paused", "throttled", "offline"] as const satisfies readonly WorkerStatus[];
export const JOB_STATUSES = ["queued", "running", "completed", "failed", "cancelled", "dead"] as const satisfies readonly JobStatus[];
/** The statuses a job ends in: it never changes again. */
export const FINISHED_JOB_STATUSES = ["completed", "failed", "cancelled", "dead"] as const satisfies readonly JobStatus[];
const FINISHED: ReadonlySet<string> = new Set(FINISHED_JOB_STATUSES);
/** Whether a job in this status has ended (FINISHED_JOB_STATUSES). */
export function isFinished(status: string): boolean {
  return FINISHED.has(status);
}
export const ATTEMPT_OUTCOMES = [
  "running",
  "completed",
  "failed",
  "expired",
  "cancelled",
] as const satisfies readonly JobAttemptRow["outcome"][];

/** Who a job is for: a client, an audit re-run, or a canary (issue 9). */
export const JOB_PURPOSES = ["client", "audit", "canary"] as const satisfies readonly JobPurpose[];
export const AUDIT_KINDS = ["audit", "canary"] as const satisfies readonly AuditKind[];
export const AUDIT_STATUSES = [
  "waiting",
  "running",
  "tiebreak",
  "match",
  "mismatch",
  "inconclusive",
  "unresolved",
  "skipped",
] as const satisfies readonly AuditStatus[];

// The closed value sets of status columns, shared by both schemas and the row mapping.
import type { JobAttemptRow, JobStatus, WorkerStatus } from "./repository.ts";

export const WORKER_STATUSES = ["online", "idle", "busy", "paused", "throttled", "offline"] as const satisfies readonly WorkerStatus[];
export const JOB_STATUSES = ["queued", "running", "completed", "failed", "cancelled", "dead"] as const satisfies readonly JobStatus[];
export const ATTEMPT_OUTCOMES = [
  "running",
  "completed",
  "failed",
  "expired",
  "cancelled",
] as const satisfies readonly JobAttemptRow["outcome"][];

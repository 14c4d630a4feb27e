// Label value sets and histogram buckets of the coordinator's Prometheus metrics.
import { AUDIT_KINDS, WORKER_STATUSES } from "../db/enums.ts";

/** How a job ended, as counted by `gogrid_jobs_total{outcome}`. */
export const JOB_OUTCOMES = ["completed", "failed", "cancelled", "dead", "timeout", "rejected"] as const;
export type JobOutcomeLabel = (typeof JOB_OUTCOMES)[number];

/** Events of one attempt, as counted by `gogrid_job_attempts_total{result}`. */
export const ATTEMPT_RESULTS = ["attempt_started", "worker_lost", "retried"] as const;
export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];

export const TOKEN_KINDS = ["prompt", "completion"] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Worker socket problems, as counted by `gogrid_ws_errors_total{kind}`. */
export const WS_ERROR_KINDS = ["invalid_frame", "auth_failed", "handshake_timeout", "closed_abnormally"] as const;
export type WsErrorKind = (typeof WS_ERROR_KINDS)[number];

/** The `state` values of `gogrid_workers`: the database's worker statuses. */
export const WORKER_STATES = WORKER_STATUSES;
export type WorkerState = (typeof WORKER_STATES)[number];

/** Sources read at scrape time whose failures are counted by `gogrid_metrics_collect_errors_total{source}`. */
export const COLLECT_SOURCES = ["workers", "queue_depth", "quarantined"] as const;
export type CollectSource = (typeof COLLECT_SOURCES)[number];

/** Result checks (issue 9), as counted by `gogrid_audits_total{kind, outcome}`: the database's audit kinds. */
export { AUDIT_KINDS };
export type AuditKindLabel = (typeof AUDIT_KINDS)[number];
export const AUDIT_OUTCOMES = ["match", "mismatch", "inconclusive", "unresolved", "skipped"] as const;
export type AuditOutcomeLabel = (typeof AUDIT_OUTCOMES)[number];

/** The `route` label of requests no route matched (keeps raw URLs out of label values). */
export const UNMATCHED_ROUTE = "unmatched";

/** Seconds, 5 ms to 10 min: queue wait and time to first token. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Seconds, 50 ms to 30 min: a job's run time, retries included (one attempt may take 10 min). */
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];

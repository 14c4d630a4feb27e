// The JSON the dashboard pages read: one TypeBox schema per endpoint (schema = type).
import { type Static, Type as T } from "@sinclair/typebox";
import { Nullable, OneOf } from "../api/typebox.ts";
import { JOB_PURPOSES, JOB_STATUSES, WORKER_STATUSES } from "../db/enums.ts";

const WorkerStatus = OneOf(WORKER_STATUSES);
const JobStatus = OneOf(JOB_STATUSES);

export const Overview = T.Object({
  at: T.Number({ description: "server time, epoch ms" }),
  workers: T.Object({
    total: T.Integer(),
    online: T.Integer(),
    idle: T.Integer(),
    busy: T.Integer(),
    paused: T.Integer(),
    throttled: T.Integer(),
    offline: T.Integer(),
    revoked: T.Integer(),
    /** Not revoked, quarantined by result verification (counted in their status too). */
    quarantined: T.Integer(),
  }),
  /** Completed jobs per minute, averaged over the last 10 minutes. */
  jobsPerMinute: T.Number(),
  /** Generated (completion) tokens per second over the last minute. */
  tokensPerSecond: T.Number(),
  queueDepth: T.Integer(),
  running: T.Integer(),
  earnings: T.Object({ todayMicros: T.Integer(), totalMicros: T.Integer(), totalJobs: T.Integer() }),
});
export type Overview = Static<typeof Overview>;

export const WorkerView = T.Object({
  nodeId: T.String(),
  name: Nullable(T.String()),
  gpu: Nullable(T.String()),
  vramMb: Nullable(T.Number()),
  backend: Nullable(T.String()),
  mode: Nullable(T.String()),
  status: T.Union([WorkerStatus, T.Literal("revoked")]),
  lastHeartbeatAt: Nullable(T.Number()),
  jobsCompleted: T.Integer(),
  earningsMicros: T.Integer(),
  /** 0–1 from audits and canaries; below the threshold the worker is quarantined. */
  trust: T.Number(),
  /** Quarantined since (epoch ms): no jobs, no credit until released; null when not. */
  quarantinedAt: Nullable(T.Number()),
  quarantineReason: Nullable(T.String()),
});
export type WorkerView = Static<typeof WorkerView>;
export const WorkersResponse = T.Object({ at: T.Number(), workers: T.Array(WorkerView) });
export type WorkersResponse = Static<typeof WorkersResponse>;

export const JobView = T.Object({
  id: T.String(),
  status: JobStatus,
  model: T.String(),
  createdAt: T.Number(),
  finishedAt: Nullable(T.Number()),
  /** finishedAt − createdAt (queueing included); null while unfinished. */
  latencyMs: Nullable(T.Number()),
  workerId: Nullable(T.String()),
  worker: Nullable(T.String()),
  promptTokens: Nullable(T.Integer()),
  completionTokens: Nullable(T.Integer()),
  retries: T.Integer(),
  error: Nullable(T.String()),
  /** client, or the coordinator's own checks (issue 9): audit re-runs and canaries. */
  purpose: OneOf(JOB_PURPOSES),
});
export type JobView = Static<typeof JobView>;
export const JobsResponse = T.Object({ at: T.Number(), jobs: T.Array(JobView) });
export type JobsResponse = Static<typeof JobsResponse>;

export const EarningsResponse = T.Object({
  at: T.Number(),
  /** The last 30 UTC days, oldest first, days without credits as zero. */
  days: T.Array(T.Object({ day: T.String(), amountMicros: T.Integer(), jobs: T.Integer() })),
});
export type EarningsResponse = Static<typeof EarningsResponse>;

export const ThroughputResponse = T.Object({
  at: T.Number(),
  /** The last 60 minutes, oldest first: minute start (epoch ms) and completion tokens finished in it. */
  minutes: T.Array(T.Object({ t: T.Number(), tokens: T.Integer(), jobs: T.Integer() })),
});
export type ThroughputResponse = Static<typeof ThroughputResponse>;

// The JSON the dashboard pages read: one TypeBox schema per endpoint (schema = type).
import { type Static, Type as T } from "@sinclair/typebox";

const WorkerStatus = T.Union([
  T.Literal("online"),
  T.Literal("idle"),
  T.Literal("busy"),
  T.Literal("paused"),
  T.Literal("throttled"),
  T.Literal("offline"),
]);

const JobStatus = T.Union([
  T.Literal("queued"),
  T.Literal("running"),
  T.Literal("completed"),
  T.Literal("failed"),
  T.Literal("cancelled"),
  T.Literal("dead"),
]);

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
  name: T.Union([T.String(), T.Null()]),
  gpu: T.Union([T.String(), T.Null()]),
  vramMb: T.Union([T.Number(), T.Null()]),
  backend: T.Union([T.String(), T.Null()]),
  mode: T.Union([T.String(), T.Null()]),
  status: T.Union([WorkerStatus, T.Literal("revoked")]),
  lastHeartbeatAt: T.Union([T.Number(), T.Null()]),
  jobsCompleted: T.Integer(),
  earningsMicros: T.Integer(),
  /** 0–1 from audits and canaries; below the threshold the worker is quarantined. */
  trust: T.Number(),
  /** Quarantined since (epoch ms): no jobs, no credit until released; null when not. */
  quarantinedAt: T.Union([T.Number(), T.Null()]),
  quarantineReason: T.Union([T.String(), T.Null()]),
});
export type WorkerView = Static<typeof WorkerView>;
export const WorkersResponse = T.Object({ at: T.Number(), workers: T.Array(WorkerView) });
export type WorkersResponse = Static<typeof WorkersResponse>;

export const JobView = T.Object({
  id: T.String(),
  status: JobStatus,
  model: T.String(),
  createdAt: T.Number(),
  finishedAt: T.Union([T.Number(), T.Null()]),
  /** finishedAt − createdAt (queueing included); null while unfinished. */
  latencyMs: T.Union([T.Number(), T.Null()]),
  workerId: T.Union([T.String(), T.Null()]),
  worker: T.Union([T.String(), T.Null()]),
  promptTokens: T.Union([T.Integer(), T.Null()]),
  completionTokens: T.Union([T.Integer(), T.Null()]),
  retries: T.Integer(),
  error: T.Union([T.String(), T.Null()]),
  /** client, or the coordinator's own checks (issue 9): audit re-runs and canaries. */
  purpose: T.Union([T.Literal("client"), T.Literal("audit"), T.Literal("canary")]),
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

// Postgres tables (drizzle-orm/pg-core); keep column names and meaning identical to schema-sqlite.ts.

import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { ATTEMPT_OUTCOMES, AUDIT_KINDS, AUDIT_STATUSES, JOB_PURPOSES, JOB_STATUSES, WORKER_STATUSES } from "./enums.ts";

/** Epoch milliseconds. */
const ms = (name: string) => bigint(name, { mode: "number" });

export const workers = pgTable(
  "workers",
  {
    nodeId: text("node_id").primaryKey(),
    clientId: text("client_id"),
    name: text("name"),
    ownerId: text("owner_id"),
    status: text("status", { enum: WORKER_STATUSES }).notNull().default("offline"),
    info: jsonb("info").$type<Record<string, unknown>>(),
    instanceId: text("instance_id"),
    lastHeartbeatAt: ms("last_heartbeat_at"),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
    trust: doublePrecision("trust").notNull().default(1),
    /** Set while quarantined (issue 9): no jobs, no credit, until an operator releases it. */
    quarantinedAt: ms("quarantined_at"),
    quarantineReason: text("quarantine_reason"),
    /** Audit and canary outcomes the trust score is computed from. */
    auditMatches: integer("audit_matches").notNull().default(0),
    auditMismatches: integer("audit_mismatches").notNull().default(0),
  },
  (t) => [index("workers_status_heartbeat_idx").on(t.status, t.lastHeartbeatAt), index("workers_owner_idx").on(t.ownerId)],
);

export const certificates = pgTable(
  "certificates",
  {
    serial: text("serial").primaryKey(),
    nodeId: text("node_id")
      .notNull()
      .references(() => workers.nodeId),
    pem: text("pem").notNull(),
    notBefore: ms("not_before").notNull(),
    notAfter: ms("not_after").notNull(),
    revokedAt: ms("revoked_at"),
    revokeReason: text("revoke_reason"),
  },
  (t) => [index("certificates_node_idx").on(t.nodeId), index("certificates_revoked_idx").on(t.revokedAt)],
);

export const enrolmentTokens = pgTable("enrolment_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  label: text("label"),
  ownerId: text("owner_id"),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  usedAt: ms("used_at"),
  usedByNodeId: text("used_by_node_id"),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    keyHash: text("key_hash").notNull(),
    name: text("name").notNull(),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
    promptTokens: bigint("prompt_tokens", { mode: "number" }).notNull().default(0),
    completionTokens: bigint("completion_tokens", { mode: "number" }).notNull().default(0),
    costMicros: bigint("cost_micros", { mode: "number" }).notNull().default(0),
  },
  (t) => [uniqueIndex("api_keys_key_hash_idx").on(t.keyHash)],
);

export const models = pgTable("models", {
  id: text("id").primaryKey(),
  source: text("source").notNull(),
  sha256: text("sha256").notNull(),
  sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
  contextLength: integer("context_length"),
  createdAt: ms("created_at").notNull(),
});

/** Per-model prices (issue 5): micro-units of the currency per 1000 tokens. */
export const prices = pgTable("prices", {
  modelId: text("model_id").primaryKey(),
  completionMicrosPer1k: bigint("completion_micros_per_1k", { mode: "number" }).notNull(),
  promptMicrosPer1k: bigint("prompt_micros_per_1k", { mode: "number" }).notNull(),
});

export const jobs = pgTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    /** Insertion order: the FIFO tie-break within one millisecond (SQLite uses its rowid). */
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    apiKeyId: text("api_key_id"),
    model: text("model").notNull(),
    request: jsonb("request").$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    priority: integer("priority").notNull().default(0),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    availableAt: ms("available_at").notNull(),
    timeoutMs: bigint("timeout_ms", { mode: "number" }).notNull(),
    workerId: text("worker_id"),
    fence: text("fence"),
    leaseExpiresAt: ms("lease_expires_at"),
    originInstance: text("origin_instance"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    startedAt: ms("started_at"),
    finishedAt: ms("finished_at"),
    resultText: text("result_text"),
    finishReason: text("finish_reason"),
    promptTokens: integer("prompt_tokens"),
    completionTokens: integer("completion_tokens"),
    error: jsonb("error").$type<{ code: string; message: string }>(),
    /** client, audit or canary (issue 9): only client jobs are credited and seen by clients. */
    purpose: text("purpose", { enum: JOB_PURPOSES }).notNull().default("client"),
    /** Placement (issue 9): only this worker may run it / these may not (",a,b,") / only this worker class. */
    targetWorker: text("target_worker"),
    avoidWorkers: text("avoid_workers"),
    workerClass: text("worker_class"),
    /** Completed without its credit (schema-sqlite.ts says when); the reconciler reads only these. */
    creditPending: boolean("credit_pending"),
  },
  (t) => [
    // leaseNextJob: status = queued, model in (...), ORDER BY priority DESC, created_at, seq
    index("jobs_lease_idx").on(t.status, t.model, t.priority.desc(), t.createdAt, t.seq),
    // requeueExpired: status = running AND lease_expires_at <= now. Partial, so that jobs_lease_idx
    // is the only index a lease's `status = 'queued'` can use: on a fresh or unanalysed table
    // (row estimates of 1) the planner took this one and sorted the whole queue per lease.
    index("jobs_running_expiry_idx").on(t.leaseExpiresAt).where(sql`${t.status} = 'running'`),
    index("jobs_worker_idx").on(t.workerId),
    index("jobs_created_idx").on(t.createdAt),
    // hasPlacedJobs: queued jobs placed by worker, without walking the whole queue
    index("jobs_placed_idx").on(t.status, t.availableAt).where(sql`${t.targetWorker} is not null or ${t.avoidWorkers} is not null`),
    index("jobs_credit_pending_idx").on(t.finishedAt).where(sql`${t.creditPending}`),
    // A job holds a lease exactly while it runs. The batched completion (pg-lease.ts) relies on it:
    // it checks `lease_expires_at is not null` where it means `status = 'running'`, because
    // Postgres answers a `status = 'running'` there from jobs_lease_idx and walks every entry
    // the jobs completed since the last vacuum left behind instead of the batch's primary keys.
    // (SQLite's completion checks the status itself: it has no such entries, and no such check.)
    check("jobs_lease_only_running", sql`(${t.status} = 'running') = (${t.leaseExpiresAt} is not null)`),
  ],
);

export const jobAttempts = pgTable(
  "job_attempts",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    workerId: text("worker_id").notNull(),
    fence: text("fence").notNull(),
    startedAt: ms("started_at").notNull(),
    endedAt: ms("ended_at"),
    outcome: text("outcome", { enum: ATTEMPT_OUTCOMES }).notNull(),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.attempt] }), index("job_attempts_worker_idx").on(t.workerId)],
);

/** One credit per completed job: job_id is the idempotency key. */
export const earningsLedger = pgTable(
  "earnings_ledger",
  {
    jobId: text("job_id").primaryKey(),
    nodeId: text("node_id").notNull(),
    ownerId: text("owner_id"),
    model: text("model").notNull(),
    promptTokens: integer("prompt_tokens").notNull(),
    completionTokens: integer("completion_tokens").notNull(),
    amountMicros: bigint("amount_micros", { mode: "number" }).notNull(),
    at: ms("at").notNull(),
  },
  (t) => [index("earnings_ledger_node_idx").on(t.nodeId, t.at), index("earnings_ledger_owner_idx").on(t.ownerId, t.at)],
);

export const metricSamples = pgTable(
  "metric_samples",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    name: text("name").notNull(),
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    value: doublePrecision("value").notNull(),
    at: ms("at").notNull(),
  },
  (t) => [index("metric_samples_name_at_idx").on(t.name, t.at)],
);

/**
 * Result checks (issue 9). kind "audit": `id` is the client job re-run on another worker
 * (`auditJobId`) and, when the two disagree, on a third (`tiebreakJobId`). kind "canary": `id` is
 * the canary job sent to `subjectWorker`, compared with the canary's known answer.
 */
export const audits = pgTable(
  "audits",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: AUDIT_KINDS }).notNull(),
    model: text("model").notNull(),
    workerClass: text("worker_class"),
    subjectWorker: text("subject_worker"),
    auditJobId: text("audit_job_id"),
    auditWorker: text("audit_worker"),
    tiebreakJobId: text("tiebreak_job_id"),
    tiebreakWorker: text("tiebreak_worker"),
    canaryId: text("canary_id"),
    status: text("status", { enum: AUDIT_STATUSES }).notNull(),
    /** The worker the outcome counted against (mismatch), if any. */
    culprit: text("culprit"),
    detail: text("detail"),
    createdAt: ms("created_at").notNull(),
    resolvedAt: ms("resolved_at"),
  },
  (t) => [
    index("audits_status_idx").on(t.status, t.createdAt),
    index("audits_audit_job_idx").on(t.auditJobId),
    index("audits_tiebreak_job_idx").on(t.tiebreakJobId),
    index("audits_subject_idx").on(t.subjectWorker),
  ],
);

/** Operator-registered prompts with known answers, per model (issue 9). */
export const canaries = pgTable(
  "canaries",
  {
    id: text("id").primaryKey(),
    model: text("model").notNull(),
    prompt: text("prompt").notNull(),
    expected: text("expected").notNull(),
    maxTokens: integer("max_tokens").notNull(),
    /** Only workers of this class get it (the answer was made on that backend); null = any. */
    workerClass: text("worker_class"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("canaries_model_idx").on(t.model)],
);

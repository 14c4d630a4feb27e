// SQLite tables (drizzle-orm/sqlite-core); keep column names and meaning identical to schema-pg.ts.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ATTEMPT_OUTCOMES, AUDIT_KINDS, AUDIT_STATUSES, JOB_PURPOSES, JOB_STATUSES, WORKER_STATUSES } from "./enums.ts";

/** Epoch milliseconds. */
const ms = (name: string) => integer(name, { mode: "number" });

export const workers = sqliteTable(
  "workers",
  {
    nodeId: text("node_id").primaryKey(),
    clientId: text("client_id"),
    name: text("name"),
    ownerId: text("owner_id"),
    status: text("status", { enum: WORKER_STATUSES }).notNull().default("offline"),
    info: text("info", { mode: "json" }).$type<Record<string, unknown>>(),
    instanceId: text("instance_id"),
    lastHeartbeatAt: ms("last_heartbeat_at"),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
    trust: real("trust").notNull().default(1),
    /** Set while quarantined (issue 9): no jobs, no credit, until an operator releases it. */
    quarantinedAt: ms("quarantined_at"),
    quarantineReason: text("quarantine_reason"),
    /** Audit and canary outcomes the trust score is computed from. */
    auditMatches: integer("audit_matches", { mode: "number" }).notNull().default(0),
    auditMismatches: integer("audit_mismatches", { mode: "number" }).notNull().default(0),
  },
  (t) => [index("workers_status_heartbeat_idx").on(t.status, t.lastHeartbeatAt), index("workers_owner_idx").on(t.ownerId)],
);

export const certificates = sqliteTable(
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

export const enrolmentTokens = sqliteTable("enrolment_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  label: text("label"),
  ownerId: text("owner_id"),
  createdAt: ms("created_at").notNull(),
  expiresAt: ms("expires_at").notNull(),
  usedAt: ms("used_at"),
  usedByNodeId: text("used_by_node_id"),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    keyHash: text("key_hash").notNull(),
    name: text("name").notNull(),
    createdAt: ms("created_at").notNull(),
    revokedAt: ms("revoked_at"),
    promptTokens: integer("prompt_tokens", { mode: "number" }).notNull().default(0),
    completionTokens: integer("completion_tokens", { mode: "number" }).notNull().default(0),
    costMicros: integer("cost_micros", { mode: "number" }).notNull().default(0),
  },
  (t) => [uniqueIndex("api_keys_key_hash_idx").on(t.keyHash)],
);

export const models = sqliteTable("models", {
  id: text("id").primaryKey(),
  source: text("source").notNull(),
  sha256: text("sha256").notNull(),
  sizeBytes: integer("size_bytes", { mode: "number" }).notNull(),
  contextLength: integer("context_length", { mode: "number" }),
  createdAt: ms("created_at").notNull(),
});

/** Per-model prices (issue 5): micro-units of the currency per 1000 tokens. */
export const prices = sqliteTable("prices", {
  modelId: text("model_id").primaryKey(),
  completionMicrosPer1k: integer("completion_micros_per_1k", { mode: "number" }).notNull(),
  promptMicrosPer1k: integer("prompt_micros_per_1k", { mode: "number" }).notNull(),
});

export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    apiKeyId: text("api_key_id"),
    model: text("model").notNull(),
    request: text("request", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    priority: integer("priority", { mode: "number" }).notNull().default(0),
    attempts: integer("attempts", { mode: "number" }).notNull().default(0),
    maxAttempts: integer("max_attempts", { mode: "number" }).notNull(),
    availableAt: ms("available_at").notNull(),
    timeoutMs: integer("timeout_ms", { mode: "number" }).notNull(),
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
    promptTokens: integer("prompt_tokens", { mode: "number" }),
    completionTokens: integer("completion_tokens", { mode: "number" }),
    error: text("error", { mode: "json" }).$type<{ code: string; message: string }>(),
    /** client, audit or canary (issue 9): only client jobs are credited and seen by clients. */
    purpose: text("purpose", { enum: JOB_PURPOSES }).notNull().default("client"),
    /** Placement (issue 9): only this worker may run it / these may not (",a,b,") / only this worker class. */
    targetWorker: text("target_worker"),
    avoidWorkers: text("avoid_workers"),
    workerClass: text("worker_class"),
    /**
     * Set when a client job completed with output but no ledger entry was written with it (its
     * price could not be read, or an older coordinator completed it alone); cleared by its credit.
     * The reconciler (earnings/reconcile.ts) reads only these, along jobs_credit_pending_idx.
     */
    creditPending: integer("credit_pending", { mode: "boolean" }),
  },
  (t) => [
    // Partial where a job is only looked up in one state: an index entry written and moved at every
    // step costs a WAL page per commit (issue 9: 24 → 20 pages a job), and queries name the state
    // in their SQL text (a bound status cannot use a partial index).
    // leaseNextJob: status = 'queued', model = ?, ORDER BY priority DESC, created_at, rowid
    index("jobs_lease_idx").on(t.model, sql`${t.priority} DESC`, t.createdAt).where(sql`${t.status} = 'queued'`),
    // requeueExpired: status = 'running' AND lease_expires_at <= now
    index("jobs_running_expiry_idx").on(t.leaseExpiresAt).where(sql`${t.status} = 'running'`),
    // listJobs by worker (a queued job has none yet)
    index("jobs_worker_idx").on(t.workerId).where(sql`${t.workerId} is not null`),
    index("jobs_created_idx").on(t.createdAt),
    // hasPlacedJobs: queued jobs placed by worker, without walking the whole queue
    index("jobs_placed_idx").on(t.status, t.availableAt).where(sql`${t.targetWorker} is not null or ${t.avoidWorkers} is not null`),
    // uncreditedJobs: the few completed jobs still owed their credit
    index("jobs_credit_pending_idx").on(t.finishedAt).where(sql`${t.creditPending} = 1`),
  ],
);

export const jobAttempts = sqliteTable(
  "job_attempts",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    attempt: integer("attempt", { mode: "number" }).notNull(),
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
export const earningsLedger = sqliteTable(
  "earnings_ledger",
  {
    jobId: text("job_id").primaryKey(),
    nodeId: text("node_id").notNull(),
    ownerId: text("owner_id"),
    model: text("model").notNull(),
    promptTokens: integer("prompt_tokens", { mode: "number" }).notNull(),
    completionTokens: integer("completion_tokens", { mode: "number" }).notNull(),
    amountMicros: integer("amount_micros", { mode: "number" }).notNull(),
    at: ms("at").notNull(),
  },
  (t) => [index("earnings_ledger_node_idx").on(t.nodeId, t.at), index("earnings_ledger_owner_idx").on(t.ownerId, t.at)],
);

export const metricSamples = sqliteTable(
  "metric_samples",
  {
    id: integer("id", { mode: "number" }).primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    labels: text("labels", { mode: "json" }).$type<Record<string, string>>().notNull(),
    value: real("value").notNull(),
    at: ms("at").notNull(),
  },
  (t) => [index("metric_samples_name_at_idx").on(t.name, t.at)],
);

/**
 * Result checks (issue 9). kind "audit": `id` is the client job re-run on another worker
 * (`auditJobId`) and, when the two disagree, on a third (`tiebreakJobId`). kind "canary": `id` is
 * the canary job sent to `subjectWorker`, compared with the canary's known answer.
 */
export const audits = sqliteTable(
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
export const canaries = sqliteTable(
  "canaries",
  {
    id: text("id").primaryKey(),
    model: text("model").notNull(),
    prompt: text("prompt").notNull(),
    expected: text("expected").notNull(),
    maxTokens: integer("max_tokens", { mode: "number" }).notNull(),
    /** Only workers of this class get it (the answer was made on that backend); null = any. */
    workerClass: text("worker_class"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("canaries_model_idx").on(t.model)],
);

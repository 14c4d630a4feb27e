// The one storage interface of the coordinator; SQLite and Postgres implement it identically.
//
// Times are epoch milliseconds (numbers). Ids are strings made by the caller (crypto.randomUUID()
// unless said otherwise). Secrets (enrolment tokens, API keys) are stored only as SHA-256 hex.

export type WorkerStatus = "online" | "idle" | "busy" | "paused" | "throttled" | "offline";

export interface WorkerRow {
  nodeId: string;
  /** Worker-chosen stable id from its config (client_id). */
  clientId: string | null;
  name: string | null;
  ownerId: string | null;
  status: WorkerStatus;
  /** JSON from `register`: gpu_info, capabilities, resource_mode, version, os, arch. */
  info: Record<string, unknown> | null;
  /** The coordinator instance holding its socket (null when offline). */
  instanceId: string | null;
  lastHeartbeatAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  /** Quarantined (issue 9) workers get no jobs. */
  trust: number;
}

export interface CertificateRow {
  serial: string;
  nodeId: string;
  pem: string;
  notBefore: number;
  notAfter: number;
  revokedAt: number | null;
  revokeReason: string | null;
}

export interface EnrolmentTokenRow {
  tokenHash: string;
  label: string | null;
  ownerId: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedByNodeId: string | null;
}

export interface ApiKeyRow {
  id: string;
  keyHash: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
  promptTokens: number;
  completionTokens: number;
  /** Accumulated cost in micro-units of the currency (integer). */
  costMicros: number;
}

export interface ModelRow {
  id: string;
  /** Local file path on the coordinator or a remote URL the workers download from. */
  source: string;
  sha256: string;
  sizeBytes: number;
  contextLength: number | null;
  createdAt: number;
}

export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled" | "dead";

export interface JobRow {
  id: string;
  apiKeyId: string | null;
  model: string;
  /** The request as the worker needs it: prompt or messages, and sampling params (JSON). */
  request: Record<string, unknown>;
  status: JobStatus;
  priority: number;
  attempts: number;
  maxAttempts: number;
  /** Not handed out before this time (retry backoff). */
  availableAt: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Current attempt: who holds it, its fencing token, and when its lease ends. */
  workerId: string | null;
  fence: string | null;
  leaseExpiresAt: number | null;
  /** The coordinator instance whose client waits for this job (streams go there). */
  originInstance: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  resultText: string | null;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  error: { code: string; message: string } | null;
}

export interface JobAttemptRow {
  jobId: string;
  attempt: number;
  workerId: string;
  fence: string;
  startedAt: number;
  endedAt: number | null;
  outcome: "running" | "completed" | "failed" | "expired" | "cancelled";
  error: string | null;
}

export interface NewJob {
  id: string;
  apiKeyId: string | null;
  model: string;
  request: Record<string, unknown>;
  priority?: number;
  maxAttempts?: number;
  timeoutMs: number;
  originInstance: string | null;
  now: number;
}

export interface JobFilter {
  status?: JobStatus[];
  workerId?: string;
  limit?: number;
}

export interface LeaseRequest {
  workerId: string;
  /** Model ids the worker has or can fetch. */
  models: string[];
  now: number;
  /** Lease length; the holder must finish (or extend) before it ends. */
  leaseMs: number;
  /** The fencing token for this attempt (caller-made, unique). */
  fence: string;
}

export interface JobResult {
  text: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
}

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  at: number;
}

export interface LedgerEntry {
  /** Idempotency key: one credit per completed job. */
  jobId: string;
  nodeId: string;
  ownerId: string | null;
  model: string;
  promptTokens: number;
  completionTokens: number;
  amountMicros: number;
  at: number;
}

export interface PriceRow {
  modelId: string;
  /** Micro-units of the currency per 1000 generated tokens. */
  completionMicrosPer1k: number;
  /** Micro-units per 1000 prompt tokens (0 = prompt tokens are free). */
  promptMicrosPer1k: number;
}

/** Which ledger entries to add up: one node's, one owner's, or all; [since, until). */
export interface LedgerFilter {
  nodeId?: string;
  ownerId?: string;
  since?: number;
  until?: number;
}

export interface LedgerTotals {
  amountMicros: number;
  jobs: number;
  promptTokens: number;
  completionTokens: number;
}

export interface Repository {
  readonly dialect: "sqlite" | "postgres";

  // workers
  createWorker(row: Pick<WorkerRow, "nodeId" | "clientId" | "name" | "ownerId">, now: number): Promise<WorkerRow>;
  getWorker(nodeId: string): Promise<WorkerRow | null>;
  listWorkers(): Promise<WorkerRow[]>;
  /** Sets status and, when given, info / instance / heartbeat time. */
  updateWorker(
    nodeId: string,
    patch: Partial<Pick<WorkerRow, "status" | "info" | "instanceId" | "lastHeartbeatAt" | "name" | "trust">>,
  ): Promise<void>;
  /** Marks online workers whose last heartbeat is older than `before` offline; returns their ids. */
  markStaleWorkersOffline(before: number): Promise<string[]>;

  // certificates
  insertCertificate(row: Omit<CertificateRow, "revokedAt" | "revokeReason">): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRow | null>;
  /** Revokes every certificate of the node and the node itself; returns the revoked serials. */
  revokeWorker(nodeId: string, reason: string, now: number): Promise<string[]>;
  listRevokedCertificates(): Promise<CertificateRow[]>;

  // enrolment tokens
  createEnrolmentToken(row: Omit<EnrolmentTokenRow, "usedAt" | "usedByNodeId">): Promise<void>;
  /**
   * Atomically marks an unexpired, unused token as used by `nodeId`. Returns the token, or a
   * reason it could not be used. Two concurrent calls with one token: exactly one succeeds.
   */
  consumeEnrolmentToken(
    tokenHash: string,
    nodeId: string,
    now: number,
  ): Promise<{ ok: true; token: EnrolmentTokenRow } | { ok: false; reason: "unknown" | "used" | "expired" }>;
  listEnrolmentTokens(): Promise<EnrolmentTokenRow[]>;

  // API keys
  createApiKey(row: Pick<ApiKeyRow, "id" | "keyHash" | "name" | "createdAt">): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRow | null>;
  listApiKeys(): Promise<ApiKeyRow[]>;
  revokeApiKey(id: string, now: number): Promise<boolean>;
  addApiKeyUsage(id: string, promptTokens: number, completionTokens: number, costMicros: number): Promise<void>;

  // models
  upsertModel(row: ModelRow): Promise<void>;
  getModel(id: string): Promise<ModelRow | null>;
  listModels(): Promise<ModelRow[]>;
  removeModel(id: string): Promise<boolean>;

  // jobs
  enqueueJob(job: NewJob): Promise<JobRow>;
  getJob(id: string): Promise<JobRow | null>;
  listJobs(filter?: JobFilter): Promise<JobRow[]>;
  /**
   * Hands the best queued job (highest priority, then oldest) whose model is in `models` and
   * whose availableAt ≤ now to the worker: status running, attempts+1, new fence, lease until
   * now+leaseMs, an attempt row. Safe under concurrency (Postgres: FOR UPDATE SKIP LOCKED).
   */
  leaseNextJob(req: LeaseRequest): Promise<JobRow | null>;
  /** Leases one specific queued job (the scheduler picked it); null when no longer queued. */
  leaseJob(jobId: string, req: LeaseRequest): Promise<JobRow | null>;
  /** Extends the lease if `fence` is still current. */
  extendLease(jobId: string, fence: string, until: number): Promise<boolean>;
  /** Completes the job if `fence` is still current; false (and no change) for a stale fence. */
  completeJob(jobId: string, fence: string, result: JobResult, now: number): Promise<boolean>;
  /**
   * Ends the current attempt as failed if `fence` is current: back to queued with
   * availableAt = retryAt while attempts < maxAttempts, else status dead (dead-letter).
   */
  failAttempt(jobId: string, fence: string, error: { code: string; message: string }, retryAt: number, now: number): Promise<JobRow | null>;
  /** Expired leases: attempts end as "expired"; jobs go back to queued or to dead. Returns them. */
  requeueExpired(now: number, retryAt: (job: JobRow) => number): Promise<JobRow[]>;
  /** Cancels a job that is not finished; returns it (with its holder, to tell the worker). */
  cancelJob(jobId: string, now: number): Promise<JobRow | null>;
  listAttempts(jobId: string): Promise<JobAttemptRow[]>;
  countJobs(status: JobStatus): Promise<number>;

  // prices and earnings
  /** Inserts or replaces the model's price; both rates must be non-negative safe integers (RangeError). */
  setPrice(row: PriceRow): Promise<void>;
  getPrice(modelId: string): Promise<PriceRow | null>;
  listPrices(): Promise<PriceRow[]>;
  /** Inserts the entry unless one exists for the job; true when inserted. */
  creditLedger(entry: LedgerEntry): Promise<boolean>;
  ledgerTotals(filter: LedgerFilter): Promise<LedgerTotals>;
  /**
   * Credits per calendar day, days taken in a time zone `tzOffsetMinutes` east of UTC
   * (e.g. +60 for CET); days without credits are left out. `day` is YYYY-MM-DD.
   */
  ledgerByDay(filter: LedgerFilter, tzOffsetMinutes: number): Promise<{ day: string; amountMicros: number; jobs: number }[]>;
  /** Entries newest first (at, then jobId, descending); at most `limit`. */
  listLedger(filter: LedgerFilter & { limit?: number }): Promise<LedgerEntry[]>;
  insertMetricSamples(samples: MetricSample[]): Promise<void>;

  close(): Promise<void>;
}

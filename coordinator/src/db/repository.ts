// The one storage interface of the coordinator; SQLite and Postgres implement it identically.
//
// Times are epoch milliseconds (numbers). Ids are strings made by the caller (crypto.randomUUID()
// unless said otherwise). Secrets (enrolment tokens, API keys) are stored only as SHA-256 hex.

export interface UncreditedJob {
  id: string;
  workerId: string;
}

/** Finished in [since, until), completed with output but without its credit (jobs.credit_pending), by a worker not quarantined, and absent from the ledger. */
export interface UncreditedQuery {
  since: number;
  until: number;
  limit: number;
}

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
  /** Trust score in [0, 1] from audit and canary outcomes (issue 9); 1 = no evidence against it. */
  trust: number;
  /** Set while quarantined (issue 9): no jobs and no credit until an operator releases it. */
  quarantinedAt: number | null;
  quarantineReason: string | null;
  auditMatches: number;
  auditMismatches: number;
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

/** client: a client's job; audit: a re-run that checks one (issue 9); canary: a known-answer check. */
export type JobPurpose = "client" | "audit" | "canary";

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
  purpose: JobPurpose;
  /** Placement: only this worker may run it (canaries). */
  targetWorker: string | null;
  /** Placement: these workers may not run it (an audit avoids the worker it checks). */
  avoidWorkers: string[];
  /** Placement: only workers of this class (backend and architecture) may run it. */
  workerClass: string | null;
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
  purpose?: JobPurpose;
  targetWorker?: string | null;
  avoidWorkers?: string[];
  workerClass?: string | null;
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
  /** The worker's class (backend/arch): jobs placed on one class go only to workers of it. */
  workerClass?: string;
}

/** What a credit writes: the ledger entry (its ownerId is the worker's) and the API key charged with it. */
export interface CreditRequest {
  entry: Omit<LedgerEntry, "ownerId">;
  apiKeyId: string | null;
}

export type CreditOutcome = "credited" | "already_credited" | "quarantined";

/** A lease of up to `fences.length` jobs for one worker, one fence per job. */
export type LeaseBatchRequest = Omit<LeaseRequest, "fence"> & { fences: string[] };

/** leaseNextJob's request as leaseNextJobs's, of one job. */
export function oneJobLease({ fence, ...rest }: LeaseRequest): LeaseBatchRequest {
  return { ...rest, fences: [fence] };
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

export type AuditKind = "audit" | "canary";
/**
 * waiting: the client job still runs; running: the audit re-run (or the canary) runs; tiebreak: a
 * third worker runs it; then match, mismatch (someone's answer was wrong), inconclusive (late
 * divergence, no one blamed), unresolved (no majority, or no third worker), skipped (no auditor,
 * or the client job did not complete).
 */
export type AuditStatus = "waiting" | "running" | "tiebreak" | "match" | "mismatch" | "inconclusive" | "unresolved" | "skipped";

export interface AuditRow {
  /** kind audit: the client job checked; kind canary: the canary job. */
  id: string;
  kind: AuditKind;
  model: string;
  workerClass: string | null;
  /** The worker checked: the client job's worker, or the canary's target (null while waiting). */
  subjectWorker: string | null;
  auditJobId: string | null;
  auditWorker: string | null;
  tiebreakJobId: string | null;
  tiebreakWorker: string | null;
  canaryId: string | null;
  status: AuditStatus;
  culprit: string | null;
  detail: string | null;
  createdAt: number;
  resolvedAt: number | null;
}

export type NewAudit = Pick<AuditRow, "id" | "kind" | "model" | "status" | "createdAt"> &
  Partial<Omit<AuditRow, "id" | "kind" | "model" | "status" | "createdAt">>;

export interface AuditFilter {
  status?: AuditStatus[];
  /** Audits where the worker was subject, auditor, tie-breaker or culprit. */
  workerId?: string;
  limit?: number;
}

export interface CanaryRow {
  id: string;
  model: string;
  prompt: string;
  expected: string;
  maxTokens: number;
  workerClass: string | null;
  createdAt: number;
}

/** How trust is scored from outcome counts, and where quarantine begins. */
export interface TrustPolicy {
  score(matches: number, mismatches: number): number;
  /** A worker whose score falls below this is quarantined. */
  threshold: number;
}

export interface Repository {
  readonly dialect: "sqlite" | "postgres";
  /**
   * Most jobs the scheduler asks leaseNextJobs for at once: several where each statement is a
   * round trip (Postgres), one where a lease costs microseconds (SQLite; there batches measured
   * longer tails at 1,000 jobs/s).
   */
  readonly leaseBatchLimit: number;
  /**
   * Calls made in one event-loop turn share one transaction and its commit (SQLite's group
   * commit): a lease made in the turn of an enqueue sees the job, and both are committed at once.
   * Elsewhere (Postgres) a job is visible to a lease only once its enqueue has settled.
   */
  readonly turnsShareCommit: boolean;

  // workers
  createWorker(row: Pick<WorkerRow, "nodeId" | "clientId" | "name" | "ownerId">, now: number): Promise<WorkerRow>;
  getWorker(nodeId: string): Promise<WorkerRow | null>;
  listWorkers(): Promise<WorkerRow[]>;
  /** Sets status and, when given, info / instance / heartbeat time. */
  updateWorker(
    nodeId: string,
    patch: Partial<Pick<WorkerRow, "status" | "info" | "instanceId" | "lastHeartbeatAt" | "name" | "trust">>,
  ): Promise<void>;
  /** Workers that can take jobs: not offline, not revoked, not quarantined. */
  countOnlineWorkers(): Promise<number>;
  /** Marks online workers whose last heartbeat is older than `before` offline; returns their ids. */
  markStaleWorkersOffline(before: number): Promise<string[]>;
  /** Heartbeats of many workers in one statement: sets their status and lastHeartbeatAt (gateway batching). */
  touchWorkers(nodeIds: string[], status: WorkerRow["status"], at: number): Promise<void>;

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
  /** The jobs of these ids that exist, in no particular order (the sweeps' one query instead of one per job). */
  getJobs(ids: readonly string[]): Promise<JobRow[]>;
  listJobs(filter?: JobFilter): Promise<JobRow[]>;
  /** Completed client jobs missing from the ledger (the reconciler credits them; see earnings/reconcile.ts). */
  uncreditedJobs(q: UncreditedQuery): Promise<UncreditedJob[]>;
  /**
   * Hands the best queued job (highest priority, then oldest) whose model is in `models` and
   * whose availableAt ≤ now to the worker: status running, attempts+1, new fence, lease until
   * now+leaseMs, an attempt row. Safe under concurrency (Postgres: FOR UPDATE SKIP LOCKED).
   * A quarantined worker gets nothing (checked in the same statement).
   */
  leaseNextJob(req: LeaseRequest): Promise<JobRow | null>;
  /**
   * leaseNextJob up to `fences.length` times in one atomic step (one statement on Postgres): the
   * best jobs in order, the i-th leased with `fences[i]`; fewer (or none) when no more qualify.
   */
  leaseNextJobs(req: LeaseBatchRequest): Promise<JobRow[]>;
  /**
   * Whether an available queued job is placed by worker (a target worker or workers it avoids):
   * only such a job can go to one worker when another of the same class and models found none.
   */
  hasPlacedJobs(now: number): Promise<boolean>;
  /** Leases one specific queued job (the scheduler picked it); null when no longer queued. */
  leaseJob(jobId: string, req: LeaseRequest): Promise<JobRow | null>;
  /** Extends the lease if `fence` is still current. */
  extendLease(jobId: string, fence: string, until: number): Promise<boolean>;
  /** Completes the job if `fence` is still current and returns it; null (and no change) for a stale fence. */
  completeJob(jobId: string, fence: string, result: JobResult, now: number): Promise<JobRow | null>;
  /**
   * completeJob and, only if the job completed, creditJob(credit.entry, credit.apiKeyId), in one
   * atomic step (one statement on Postgres): a job is never completed without its credit or
   * credited without completing. `credit` null: completeJob alone (`credit` in the answer null).
   */
  completeAndCreditJob(
    jobId: string,
    fence: string,
    result: JobResult,
    now: number,
    credit: CreditRequest | null,
  ): Promise<{ job: JobRow; credit: CreditOutcome | null } | null>;
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
  /**
   * Deletes up to `limit` finished jobs (FINISHED_JOB_STATUSES) that ended before `before`, oldest
   * first, with their attempts; their earnings ledger entries stay. Returns how many it deleted.
   */
  deleteFinishedJobs(before: number, limit: number): Promise<number>;

  // prices and earnings
  /** Inserts or replaces the model's price; both rates must be non-negative safe integers (RangeError). */
  setPrice(row: PriceRow): Promise<void>;
  getPrice(modelId: string): Promise<PriceRow | null>;
  listPrices(): Promise<PriceRow[]>;
  /** Inserts the entry unless one exists for the job; true when inserted. */
  creditLedger(entry: LedgerEntry): Promise<boolean>;
  /**
   * Credits a job to its worker in one atomic step: the entry (its ownerId is the worker's
   * owner, null for an unknown worker) unless the worker is quarantined or the job already has
   * one, and when inserted the API key `apiKeyId` (if any) gets the same tokens and amount.
   */
  creditJob(entry: Omit<LedgerEntry, "ownerId">, apiKeyId: string | null): Promise<CreditOutcome>;
  ledgerTotals(filter: LedgerFilter): Promise<LedgerTotals>;
  /** ledgerTotals of every node in the ledger, in one query (nodes without entries are absent). */
  ledgerTotalsByNode(): Promise<Map<string, LedgerTotals>>;
  /**
   * Credits per calendar day, days taken in a time zone `tzOffsetMinutes` east of UTC
   * (e.g. +60 for CET); days without credits are left out. `day` is YYYY-MM-DD.
   */
  ledgerByDay(filter: LedgerFilter, tzOffsetMinutes: number): Promise<{ day: string; amountMicros: number; jobs: number }[]>;
  /** Entries newest first (at, then jobId, descending); at most `limit`. */
  listLedger(filter: LedgerFilter & { limit?: number }): Promise<LedgerEntry[]>;
  insertMetricSamples(samples: MetricSample[]): Promise<void>;

  // result verification (issue 9)
  /**
   * Adds outcomes to the worker's counts and recomputes its trust in one transaction; a worker
   * that falls below the threshold is quarantined (`quarantined` is true only for that call).
   * Null when there is no such worker.
   */
  recordTrust(
    nodeId: string,
    delta: { matches: number; mismatches: number },
    policy: TrustPolicy,
    reason: string,
    now: number,
  ): Promise<{ worker: WorkerRow; quarantined: boolean } | null>;
  /** Lifts a quarantine and clears the counts (a fresh start); false when not quarantined / unknown. */
  releaseWorker(nodeId: string, policy: TrustPolicy): Promise<boolean>;
  /** Inserts the audit unless one with its id exists; true when inserted. */
  insertAudit(row: NewAudit): Promise<boolean>;
  getAudit(id: string): Promise<AuditRow | null>;
  /** The audit a job belongs to: as the checked job, the audit re-run or the tie-break. */
  findAuditByJob(jobId: string): Promise<AuditRow | null>;
  /** Applies `patch` only while the audit's status is one of `from` (compare-and-set); the updated row or null. */
  updateAudit(id: string, from: AuditStatus[], patch: Partial<Omit<AuditRow, "id" | "kind">>): Promise<AuditRow | null>;
  /** Newest first. */
  listAudits(filter?: AuditFilter): Promise<AuditRow[]>;
  addCanary(row: CanaryRow): Promise<void>;
  /** Oldest first; one model's when given. */
  listCanaries(model?: string): Promise<CanaryRow[]>;
  removeCanary(id: string): Promise<boolean>;

  close(): Promise<void>;
}

// Row mapping shared by both dialects: database records → the Repository's row types, and the
// job state transitions (fail, expire) both implementations apply identically.
import { sql } from "drizzle-orm";
import type {
  ApiKeyRow,
  AuditRow,
  CanaryRow,
  CertificateRow,
  EnrolmentTokenRow,
  JobAttemptRow,
  JobRow,
  LedgerEntry,
  ModelRow,
  NewJob,
  PriceRow,
  WorkerRow,
} from "./repository.ts";

// Each mapper copies exactly the interface's fields: dialect-only columns (jobs.seq) stay behind.

export function toWorker(r: WorkerRow): WorkerRow {
  return {
    nodeId: r.nodeId,
    clientId: r.clientId,
    name: r.name,
    ownerId: r.ownerId,
    status: r.status,
    info: r.info ?? null,
    instanceId: r.instanceId,
    lastHeartbeatAt: r.lastHeartbeatAt,
    createdAt: r.createdAt,
    revokedAt: r.revokedAt,
    trust: r.trust,
    quarantinedAt: r.quarantinedAt,
    quarantineReason: r.quarantineReason,
    auditMatches: r.auditMatches,
    auditMismatches: r.auditMismatches,
  };
}

export function toCertificate(r: CertificateRow): CertificateRow {
  return {
    serial: r.serial,
    nodeId: r.nodeId,
    pem: r.pem,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    revokedAt: r.revokedAt,
    revokeReason: r.revokeReason,
  };
}

export function toEnrolmentToken(r: EnrolmentTokenRow): EnrolmentTokenRow {
  return {
    tokenHash: r.tokenHash,
    label: r.label,
    ownerId: r.ownerId,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    usedAt: r.usedAt,
    usedByNodeId: r.usedByNodeId,
  };
}

export function toApiKey(r: ApiKeyRow): ApiKeyRow {
  return {
    id: r.id,
    keyHash: r.keyHash,
    name: r.name,
    createdAt: r.createdAt,
    revokedAt: r.revokedAt,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    costMicros: r.costMicros,
  };
}

export function toModel(r: ModelRow): ModelRow {
  return { id: r.id, source: r.source, sha256: r.sha256, sizeBytes: r.sizeBytes, contextLength: r.contextLength, createdAt: r.createdAt };
}

export function toPrice(r: PriceRow): PriceRow {
  return { modelId: r.modelId, completionMicrosPer1k: r.completionMicrosPer1k, promptMicrosPer1k: r.promptMicrosPer1k };
}

export function toLedgerEntry(r: LedgerEntry): LedgerEntry {
  return {
    jobId: r.jobId,
    nodeId: r.nodeId,
    ownerId: r.ownerId,
    model: r.model,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    amountMicros: r.amountMicros,
    at: r.at,
  };
}

/** A job's stored columns: avoid_workers is text (",a,b,"), decoded to a list. */
type StoredJob = Omit<JobRow, "avoidWorkers"> & { avoidWorkers: string | null };

/** [a, b] → ",a,b," (so one LIKE '%,id,%' finds a member); [] → null. */
function encodeWorkerList(ids: readonly string[] | undefined): string | null {
  if (!ids || ids.length === 0) return null;
  for (const id of ids) if (id.includes(",")) throw new RangeError(`a worker id in a job's placement cannot contain ",": ${id}`);
  return `,${ids.join(",")},`;
}

function decodeWorkerList(text: string | null): string[] {
  return text ? text.split(",").filter(Boolean) : [];
}

export function toAudit(r: AuditRow): AuditRow {
  return {
    id: r.id,
    kind: r.kind,
    model: r.model,
    workerClass: r.workerClass,
    subjectWorker: r.subjectWorker,
    auditJobId: r.auditJobId,
    auditWorker: r.auditWorker,
    tiebreakJobId: r.tiebreakJobId,
    tiebreakWorker: r.tiebreakWorker,
    canaryId: r.canaryId,
    status: r.status,
    culprit: r.culprit,
    detail: r.detail,
    createdAt: r.createdAt,
    resolvedAt: r.resolvedAt,
  };
}

export function toCanary(r: CanaryRow): CanaryRow {
  return {
    id: r.id,
    model: r.model,
    prompt: r.prompt,
    expected: r.expected,
    maxTokens: r.maxTokens,
    workerClass: r.workerClass,
    createdAt: r.createdAt,
  };
}

export function toJob(r: StoredJob): JobRow {
  return {
    id: r.id,
    apiKeyId: r.apiKeyId,
    model: r.model,
    request: r.request,
    status: r.status,
    priority: r.priority,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    availableAt: r.availableAt,
    timeoutMs: r.timeoutMs,
    workerId: r.workerId,
    fence: r.fence,
    leaseExpiresAt: r.leaseExpiresAt,
    originInstance: r.originInstance,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    resultText: r.resultText,
    finishReason: r.finishReason,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    error: r.error ?? null,
    purpose: r.purpose,
    targetWorker: r.targetWorker,
    avoidWorkers: decodeWorkerList(r.avoidWorkers),
    workerClass: r.workerClass,
  };
}

export function toAttempt(r: JobAttemptRow): JobAttemptRow {
  return {
    jobId: r.jobId,
    attempt: r.attempt,
    workerId: r.workerId,
    fence: r.fence,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    outcome: r.outcome,
    error: r.error,
  };
}

/** Defaults of a new job (NewJob leaves priority and maxAttempts optional). */
export const DEFAULT_PRIORITY = 0;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Column values of a job whose running attempt ended without a result (failed or lease expired). */
export interface AttemptEndPatch {
  status: "queued" | "dead";
  availableAt: number;
  workerId: null;
  fence: null;
  leaseExpiresAt: null;
  finishedAt: number | null;
  error: { code: string; message: string };
  updatedAt: number;
}

/**
 * Back to the queue (no holder; not handed out before `retryAt`) while attempts remain, else dead.
 * A queued job never shows a holder: the previous ones are in its attempt rows.
 */
export function endAttemptPatch(
  job: Pick<JobRow, "attempts" | "maxAttempts" | "availableAt">,
  error: AttemptEndPatch["error"],
  retryAt: number,
  now: number,
): AttemptEndPatch {
  const retry = job.attempts < job.maxAttempts;
  return {
    status: retry ? "queued" : "dead",
    availableAt: retry ? retryAt : job.availableAt,
    workerId: null,
    fence: null,
    leaseExpiresAt: null,
    finishedAt: retry ? null : now,
    error,
    updatedAt: now,
  };
}

/** The error recorded on a job whose lease ran out. */
export function leaseExpiredError(job: Pick<JobRow, "attempts" | "workerId">): { code: string; message: string } {
  return { code: "lease_expired", message: `worker ${job.workerId ?? "?"} did not finish attempt ${job.attempts} before its lease ended` };
}

/** The text stored in a failed attempt row. */
export function attemptErrorText(error: { code: string; message: string }): string {
  return `${error.code}: ${error.message}`;
}

/** Rows per multi-row INSERT (and ids per IN list), well under SQLite's and Postgres' bound-parameter limits. */
export const INSERT_CHUNK = 500;

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The patch without undefined keys (an absent key leaves the column alone). */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A new job's columns as drizzle placeholders (both dialects prepare the insert once) and the
 * values for them (jobInsertParams): a queued job, no attempts yet.
 */
export const JOB_INSERT_VALUES = {
  id: sql.placeholder("id"),
  apiKeyId: sql.placeholder("apiKeyId"),
  model: sql.placeholder("model"),
  request: sql.placeholder("request"),
  status: "queued",
  priority: sql.placeholder("priority"),
  attempts: 0,
  maxAttempts: sql.placeholder("maxAttempts"),
  availableAt: sql.placeholder("now"),
  timeoutMs: sql.placeholder("timeoutMs"),
  originInstance: sql.placeholder("originInstance"),
  createdAt: sql.placeholder("now"),
  updatedAt: sql.placeholder("now"),
  purpose: sql.placeholder("purpose"),
  targetWorker: sql.placeholder("targetWorker"),
  avoidWorkers: sql.placeholder("avoidWorkers"),
  workerClass: sql.placeholder("workerClass"),
} as const;

export function jobInsertParams(job: NewJob): Record<string, unknown> {
  return {
    id: job.id,
    apiKeyId: job.apiKeyId,
    model: job.model,
    request: job.request,
    priority: job.priority ?? DEFAULT_PRIORITY,
    maxAttempts: job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    now: job.now,
    timeoutMs: job.timeoutMs,
    originInstance: job.originInstance,
    purpose: job.purpose ?? "client",
    targetWorker: job.targetWorker ?? null,
    avoidWorkers: encodeWorkerList(job.avoidWorkers),
    workerClass: job.workerClass ?? null,
  };
}

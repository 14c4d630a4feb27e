// Repository on Postgres (postgres.js via drizzle-orm/postgres-js): several coordinators share one database.
import { and, asc, desc, eq, inArray, isNotNull, isNull, ne, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres, { type Sql } from "postgres";
import { DatabaseError, describeCause } from "./errors.ts";
import * as ledger from "./ledger-query.ts";
import { LookupCache } from "./lookup-cache.ts";
import * as auditOps from "./pg-audits.ts";
import type { Db } from "./pg-jobs.ts";
import * as jobOps from "./pg-jobs.ts";
import { PgHotPath } from "./pg-lease.ts";
import {
  type ApiKeyRow,
  type CertificateRow,
  type CreditOutcome,
  type EnrolmentTokenRow,
  type JobAttemptRow,
  type JobFilter,
  type JobResult,
  type JobRow,
  type JobStatus,
  type LeaseBatchRequest,
  type LeaseRequest,
  type LedgerEntry,
  type LedgerFilter,
  type LedgerTotals,
  type MetricSample,
  type ModelRow,
  type NewJob,
  oneJobLease,
  type PriceRow,
  type Repository,
  type UncreditedJob,
  type UncreditedQuery,
  type WorkerRow,
} from "./repository.ts";
import * as rows from "./rows.ts";
import { apiKeys, certificates, earningsLedger, enrolmentTokens, jobs, metricSamples, models, prices, workers } from "./schema-pg.ts";
import { uncreditedPg } from "./uncredited.ts";
import { redactUrl } from "./url.ts";

export const PG_MIGRATIONS = `${import.meta.dir}/migrations/pg`;
/** pg_advisory_lock key held while migrating, so coordinators starting together migrate one at a time. */
const MIGRATION_LOCK = 0x6f67_7269; // "ogri"

type ConsumeResult = Awaited<ReturnType<Repository["consumeEnrolmentToken"]>>;

export interface PgOptions {
  /** Connections in the pool (postgres.js `max`). */
  max?: number;
  /** Seconds to wait for a connection. */
  connectTimeout?: number;
  /** Where the pool's NOTICE messages from Postgres go (default: dropped). */
  onNotice?: (notice: postgres.Notice) => void;
}

/** Connects, applies pending migrations (under an advisory lock), and returns the repository. */
export async function openPgRepository(url: string, options: PgOptions = {}): Promise<PgRepository> {
  const connectTimeout = options.connectTimeout ?? 10;
  const migrator = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: connectTimeout });
  try {
    try {
      await migrator.unsafe(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    } catch (error) {
      throw new DatabaseError("db_unreachable", `cannot reach Postgres at ${redactUrl(url)}: ${describeCause(error)}`, { cause: error });
    }
    try {
      await migrate(drizzle({ client: migrator }), { migrationsFolder: PG_MIGRATIONS });
    } catch (error) {
      throw new DatabaseError("db_migration_failed", `migrating ${redactUrl(url)} failed: ${describeCause(error)}`, { cause: error });
    } finally {
      await migrator.unsafe(`select pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => {});
    }
  } finally {
    await migrator.end({ timeout: 5 });
  }
  const client = postgres(url, { max: options.max ?? 10, onnotice: options.onNotice ?? (() => {}), connect_timeout: connectTimeout });
  return new PgRepository(drizzle({ client }), client);
}

export class PgRepository implements Repository {
  readonly dialect = "postgres" as const;
  readonly leaseBatchLimit = 32;
  readonly turnsShareCommit = false;
  #closed = false;

  private readonly hot: PgHotPath;
  /** getModel and getPrice answers (lookup-cache.ts): found models, and prices or their absence. */
  readonly #models = new LookupCache<ModelRow | null>(1000, (m) => m !== null);
  readonly #prices = new LookupCache<PriceRow | null>();

  constructor(
    private readonly db: Db,
    private readonly client: Sql,
  ) {
    this.hot = new PgHotPath(db, client);
  }

  // workers

  async createWorker(row: Pick<WorkerRow, "nodeId" | "clientId" | "name" | "ownerId">, now: number): Promise<WorkerRow> {
    const [created] = await this.db
      .insert(workers)
      .values({ nodeId: row.nodeId, clientId: row.clientId, name: row.name, ownerId: row.ownerId, status: "offline", createdAt: now })
      .returning();
    return rows.toWorker(created!);
  }

  getWorker(nodeId: string): Promise<WorkerRow | null> {
    return this.hot.getWorker(nodeId);
  }

  async listWorkers(): Promise<WorkerRow[]> {
    return (await this.db.select().from(workers).orderBy(asc(workers.createdAt), asc(workers.nodeId))).map(rows.toWorker);
  }

  async updateWorker(nodeId: string, patch: Parameters<Repository["updateWorker"]>[1]): Promise<void> {
    const set = rows.definedOnly(patch);
    if (Object.keys(set).length === 0) return;
    await this.db.update(workers).set(set).where(eq(workers.nodeId, nodeId));
  }

  async touchWorkers(nodeIds: string[], status: WorkerRow["status"], at: number): Promise<void> {
    for (const ids of rows.chunks(nodeIds, rows.INSERT_CHUNK))
      await this.db.update(workers).set({ status, lastHeartbeatAt: at }).where(inArray(workers.nodeId, ids));
  }

  async markStaleWorkersOffline(before: number): Promise<string[]> {
    const stale = await this.db
      .update(workers)
      .set({ status: "offline", instanceId: null })
      .where(and(ne(workers.status, "offline"), sql`coalesce(${workers.lastHeartbeatAt}, ${workers.createdAt}) < ${before}`))
      .returning({ nodeId: workers.nodeId });
    return stale.map((r) => r.nodeId).sort();
  }

  // certificates

  async insertCertificate(row: Omit<CertificateRow, "revokedAt" | "revokeReason">): Promise<void> {
    await this.db.insert(certificates).values(row);
  }

  async getCertificate(serial: string): Promise<CertificateRow | null> {
    const [row] = await this.db.select().from(certificates).where(eq(certificates.serial, serial));
    return row ? rows.toCertificate(row) : null;
  }

  async revokeWorker(nodeId: string, reason: string, now: number): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      await tx
        .update(certificates)
        .set({ revokedAt: now, revokeReason: reason })
        .where(and(eq(certificates.nodeId, nodeId), isNull(certificates.revokedAt)));
      await tx
        .update(workers)
        .set({ revokedAt: sql`coalesce(${workers.revokedAt}, ${now})` })
        .where(eq(workers.nodeId, nodeId));
      const serials = await tx.select({ serial: certificates.serial }).from(certificates).where(eq(certificates.nodeId, nodeId));
      return serials.map((r) => r.serial).sort();
    });
  }

  async listRevokedCertificates(): Promise<CertificateRow[]> {
    const found = await this.db
      .select()
      .from(certificates)
      .where(isNotNull(certificates.revokedAt))
      .orderBy(asc(certificates.revokedAt), asc(certificates.serial));
    return found.map(rows.toCertificate);
  }

  // enrolment tokens

  async createEnrolmentToken(row: Omit<EnrolmentTokenRow, "usedAt" | "usedByNodeId">): Promise<void> {
    await this.db.insert(enrolmentTokens).values(row);
  }

  async consumeEnrolmentToken(tokenHash: string, nodeId: string, now: number): Promise<ConsumeResult> {
    // One conditional UPDATE: a concurrent caller waits on the row lock, then fails the re-checked WHERE.
    const [used] = await this.db
      .update(enrolmentTokens)
      .set({ usedAt: now, usedByNodeId: nodeId })
      .where(and(eq(enrolmentTokens.tokenHash, tokenHash), isNull(enrolmentTokens.usedAt), sql`${enrolmentTokens.expiresAt} > ${now}`))
      .returning();
    if (used) return { ok: true, token: rows.toEnrolmentToken(used) };
    const [token] = await this.db.select().from(enrolmentTokens).where(eq(enrolmentTokens.tokenHash, tokenHash));
    return { ok: false, reason: !token ? "unknown" : token.usedAt !== null ? "used" : "expired" };
  }

  async listEnrolmentTokens(): Promise<EnrolmentTokenRow[]> {
    const found = await this.db.select().from(enrolmentTokens).orderBy(asc(enrolmentTokens.createdAt), asc(enrolmentTokens.tokenHash));
    return found.map(rows.toEnrolmentToken);
  }

  // API keys

  async createApiKey(row: Pick<ApiKeyRow, "id" | "keyHash" | "name" | "createdAt">): Promise<void> {
    await this.db.insert(apiKeys).values(row);
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRow | null> {
    const [row] = await this.db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
    return row ? rows.toApiKey(row) : null;
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    return (await this.db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))).map(rows.toApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const changed = await this.db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return changed.length > 0;
  }

  async addApiKeyUsage(id: string, promptTokens: number, completionTokens: number, costMicros: number): Promise<void> {
    await this.db
      .update(apiKeys)
      .set({
        promptTokens: sql`${apiKeys.promptTokens} + ${promptTokens}`,
        completionTokens: sql`${apiKeys.completionTokens} + ${completionTokens}`,
        costMicros: sql`${apiKeys.costMicros} + ${costMicros}`,
      })
      .where(eq(apiKeys.id, id));
  }

  // models

  async upsertModel(row: ModelRow): Promise<void> {
    const { id: _id, createdAt: _createdAt, ...changes } = row;
    this.#models.delete(row.id);
    await this.db.insert(models).values(row).onConflictDoUpdate({ target: models.id, set: changes });
  }

  getModel(id: string): Promise<ModelRow | null> {
    return this.#models.get(id, () => this.hot.getModel(id));
  }

  async listModels(): Promise<ModelRow[]> {
    return (await this.db.select().from(models).orderBy(asc(models.id))).map(rows.toModel);
  }

  async removeModel(id: string): Promise<boolean> {
    this.#models.delete(id);
    return (await this.db.delete(models).where(eq(models.id, id)).returning({ id: models.id })).length > 0;
  }

  // jobs: the queue itself lives in pg-jobs.ts

  enqueueJob(job: NewJob): Promise<JobRow> {
    return this.hot.enqueueJob(job);
  }

  getJob(id: string): Promise<JobRow | null> {
    return this.hot.getJob(id);
  }

  async getJobs(ids: readonly string[]): Promise<JobRow[]> {
    const out: JobRow[] = [];
    for (const chunk of rows.chunks([...new Set(ids)], rows.INSERT_CHUNK))
      out.push(...(await this.db.select().from(jobs).where(inArray(jobs.id, chunk))).map(rows.toJob));
    return out;
  }

  listJobs(filter: JobFilter = {}): Promise<JobRow[]> {
    return jobOps.listJobs(this.db, filter);
  }

  uncreditedJobs(q: UncreditedQuery): Promise<UncreditedJob[]> {
    return uncreditedPg(this.db, q);
  }

  async leaseNextJob(req: LeaseRequest): Promise<JobRow | null> {
    return (await this.hot.leaseNextJobs(oneJobLease(req)))[0] ?? null;
  }

  leaseNextJobs(req: LeaseBatchRequest): Promise<JobRow[]> {
    return this.hot.leaseNextJobs(req);
  }

  leaseJob(jobId: string, req: LeaseRequest): Promise<JobRow | null> {
    return this.hot.leaseJob(jobId, req);
  }

  extendLease(jobId: string, fence: string, until: number): Promise<boolean> {
    return this.hot.extendLease(jobId, fence, until);
  }

  completeJob(jobId: string, fence: string, result: JobResult, now: number): Promise<JobRow | null> {
    return this.hot.completeJob(jobId, fence, result, now);
  }

  completeAndCreditJob(...a: Parameters<Repository["completeAndCreditJob"]>): ReturnType<Repository["completeAndCreditJob"]> {
    return this.hot.completeAndCreditJob(...a);
  }

  failAttempt(
    jobId: string,
    fence: string,
    error: { code: string; message: string },
    retryAt: number,
    now: number,
  ): Promise<JobRow | null> {
    return jobOps.failAttempt(this.db, jobId, fence, error, retryAt, now);
  }

  requeueExpired(now: number, retryAt: (job: JobRow) => number): Promise<JobRow[]> {
    return jobOps.requeueExpired(this.db, now, retryAt);
  }

  cancelJob(jobId: string, now: number): Promise<JobRow | null> {
    return jobOps.cancelJob(this.db, jobId, now);
  }

  listAttempts(jobId: string): Promise<JobAttemptRow[]> {
    return jobOps.listAttempts(this.db, jobId);
  }

  countJobs(status: JobStatus): Promise<number> {
    return this.hot.countJobs(status);
  }

  deleteFinishedJobs(before: number, limit: number): Promise<number> {
    return jobOps.deleteFinishedJobs(this.db, before, limit);
  }

  countOnlineWorkers(): Promise<number> {
    return jobOps.countOnlineWorkers(this.db);
  }

  hasPlacedJobs(now: number): Promise<boolean> {
    return this.hot.hasPlacedJobs(now);
  }

  // prices and earnings

  async setPrice(row: PriceRow): Promise<void> {
    const price = ledger.checkPrice(row);
    this.#prices.delete(price.modelId);
    await this.db
      .insert(prices)
      .values(price)
      .onConflictDoUpdate({
        target: prices.modelId,
        set: { completionMicrosPer1k: price.completionMicrosPer1k, promptMicrosPer1k: price.promptMicrosPer1k },
      });
  }

  getPrice(modelId: string): Promise<PriceRow | null> {
    return this.#prices.get(modelId, () => this.hot.getPrice(modelId));
  }

  async listPrices(): Promise<PriceRow[]> {
    return (await this.db.select().from(prices).orderBy(asc(prices.modelId))).map(rows.toPrice);
  }

  async creditLedger(entry: LedgerEntry): Promise<boolean> {
    return (await this.db.insert(earningsLedger).values(entry).onConflictDoNothing().returning({ jobId: earningsLedger.jobId })).length > 0;
  }

  creditJob(entry: Omit<LedgerEntry, "ownerId">, apiKeyId: string | null): Promise<CreditOutcome> {
    return this.hot.creditJob(entry, apiKeyId);
  }

  async ledgerTotals(filter: LedgerFilter): Promise<LedgerTotals> {
    const [row] = await this.db
      .select(ledger.totalsSelect(earningsLedger))
      .from(earningsLedger)
      .where(ledger.ledgerWhere(earningsLedger, filter));
    return ledger.toTotals(row);
  }

  async ledgerTotalsByNode(): Promise<Map<string, LedgerTotals>> {
    const found = await this.db
      .select({ nodeId: earningsLedger.nodeId, ...ledger.totalsSelect(earningsLedger) })
      .from(earningsLedger)
      .groupBy(earningsLedger.nodeId);
    return new Map(found.map((r) => [r.nodeId, ledger.toTotals(r)]));
  }

  async ledgerByDay(filter: LedgerFilter, tzOffsetMinutes: number): Promise<{ day: string; amountMicros: number; jobs: number }[]> {
    const day = ledger.localDayExpr(earningsLedger.at, tzOffsetMinutes);
    const { amountMicros, jobs } = ledger.totalsSelect(earningsLedger);
    const found = await this.db
      .select({ day, amountMicros, jobs })
      .from(earningsLedger)
      .where(ledger.ledgerWhere(earningsLedger, filter))
      .groupBy(day)
      .orderBy(day);
    return found.map((r) => ({ day: ledger.dayString(r.day), amountMicros: r.amountMicros, jobs: r.jobs }));
  }

  async listLedger(filter: LedgerFilter & { limit?: number }): Promise<LedgerEntry[]> {
    const query = this.db
      .select()
      .from(earningsLedger)
      .where(ledger.ledgerWhere(earningsLedger, filter))
      .orderBy(desc(earningsLedger.at), desc(earningsLedger.jobId));
    return (await (filter.limit !== undefined ? query.limit(filter.limit) : query)).map(rows.toLedgerEntry);
  }

  // metrics

  async insertMetricSamples(samples: MetricSample[]): Promise<void> {
    if (samples.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const chunk of rows.chunks(samples, rows.INSERT_CHUNK)) await tx.insert(metricSamples).values(chunk);
    });
  }

  // result verification (issue 9): pg-audits.ts

  recordTrust(...a: Parameters<Repository["recordTrust"]>): ReturnType<Repository["recordTrust"]> {
    return auditOps.recordTrust(this.db, ...a);
  }

  releaseWorker(...a: Parameters<Repository["releaseWorker"]>): ReturnType<Repository["releaseWorker"]> {
    return auditOps.releaseWorker(this.db, ...a);
  }

  insertAudit(...a: Parameters<Repository["insertAudit"]>): ReturnType<Repository["insertAudit"]> {
    return auditOps.insertAudit(this.db, ...a);
  }

  getAudit(...a: Parameters<Repository["getAudit"]>): ReturnType<Repository["getAudit"]> {
    return auditOps.getAudit(this.db, ...a);
  }

  findAuditByJob(...a: Parameters<Repository["findAuditByJob"]>): ReturnType<Repository["findAuditByJob"]> {
    return auditOps.findAuditByJob(this.db, ...a);
  }

  updateAudit(...a: Parameters<Repository["updateAudit"]>): ReturnType<Repository["updateAudit"]> {
    return auditOps.updateAudit(this.db, ...a);
  }

  listAudits(...a: Parameters<Repository["listAudits"]>): ReturnType<Repository["listAudits"]> {
    return auditOps.listAudits(this.db, ...a);
  }

  addCanary(...a: Parameters<Repository["addCanary"]>): ReturnType<Repository["addCanary"]> {
    return auditOps.addCanary(this.db, ...a);
  }

  listCanaries(...a: Parameters<Repository["listCanaries"]>): ReturnType<Repository["listCanaries"]> {
    return auditOps.listCanaries(this.db, ...a);
  }

  removeCanary(...a: Parameters<Repository["removeCanary"]>): ReturnType<Repository["removeCanary"]> {
    return auditOps.removeCanary(this.db, ...a);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.end({ timeout: 5 });
  }
}

// Repository on bun:sqlite (drizzle-orm/bun-sqlite): the embedded, single-instance default.
import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { and, asc, desc, eq, inArray, isNotNull, isNull, ne, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { DatabaseError, describeCause } from "./errors.ts";
import * as ledger from "./ledger-query.ts";
import { LookupCache } from "./lookup-cache.ts";
import type {
  ApiKeyRow,
  CertificateRow,
  CreditOutcome,
  CreditRequest,
  EnrolmentTokenRow,
  JobAttemptRow,
  JobFilter,
  JobResult,
  JobRow,
  JobStatus,
  LeaseBatchRequest,
  LeaseRequest,
  LedgerEntry,
  LedgerFilter,
  LedgerTotals,
  MetricSample,
  ModelRow,
  NewJob,
  PriceRow,
  Repository,
  UncreditedJob,
  UncreditedQuery,
  WorkerRow,
} from "./repository.ts";
import * as rows from "./rows.ts";
import { apiKeys, certificates, earningsLedger, enrolmentTokens, jobs, metricSamples, models, prices, workers } from "./schema-sqlite.ts";
import * as auditOps from "./sqlite-audits.ts";
import { Checkpointer, type CheckpointerOptions } from "./sqlite-checkpoint.ts";
import { GroupCommit } from "./sqlite-group-commit.ts";
import * as jobOps from "./sqlite-jobs.ts";
import { type Db, immediate, type Tx } from "./sqlite-jobs.ts";
import { cacheStatements } from "./sqlite-statements.ts";
import { uncreditedSqlite } from "./uncredited.ts";

export const SQLITE_MIGRATIONS = `${import.meta.dir}/migrations/sqlite`;

type ConsumeResult = Awaited<ReturnType<Repository["consumeEnrolmentToken"]>>;

/** Opens (creating if needed) the database file, or ":memory:", and applies pending migrations. */
export function openSqliteRepository(path: string): SqliteRepository {
  let client: Database;
  try {
    client = new Database(path, { create: true, readwrite: true, strict: true });
    client.run("PRAGMA busy_timeout = 5000");
    if (path !== ":memory:") client.run("PRAGMA journal_mode = WAL");
    client.run("PRAGMA synchronous = NORMAL");
  } catch (error) {
    throw new DatabaseError("db_unreachable", `cannot open SQLite database ${path}: ${describeCause(error)}`, { cause: error });
  }
  try {
    // Migrations run with foreign keys off (table rebuilds need it), then they are enforced.
    client.run("PRAGMA foreign_keys = OFF");
    const db = drizzle({ client });
    migrate(db, { migrationsFolder: SQLITE_MIGRATIONS });
    client.run("PRAGMA foreign_keys = ON");
    cacheStatements(client); // after the migrations: drizzle prepares through the patched client from here on
    return new SqliteRepository(db, client, path === ":memory:" ? null : resolve(path));
  } catch (error) {
    client.close();
    throw new DatabaseError("db_migration_failed", `migrating SQLite database ${path} failed: ${describeCause(error)}`, { cause: error });
  }
}

const p = sql.placeholder;

/** The lookups and the credit every job makes, built once (sqlite-jobs.ts says why). */
function hotStatements(db: Db) {
  return {
    worker: db
      .select()
      .from(workers)
      .where(eq(workers.nodeId, p("nodeId")))
      .prepare(),
    model: db
      .select()
      .from(models)
      .where(eq(models.id, p("id")))
      .prepare(),
    price: db
      .select()
      .from(prices)
      .where(eq(prices.modelId, p("modelId")))
      .prepare(),
    credit: db
      .insert(earningsLedger)
      .values({
        jobId: p("jobId"),
        nodeId: p("nodeId"),
        ownerId: p("ownerId"),
        model: p("model"),
        promptTokens: p("promptTokens"),
        completionTokens: p("completionTokens"),
        amountMicros: p("amountMicros"),
        at: p("at"),
      })
      .onConflictDoNothing()
      .returning({ jobId: earningsLedger.jobId })
      .prepare(),
    keyUsage: db
      .update(apiKeys)
      .set({
        promptTokens: sql`${apiKeys.promptTokens} + ${p("prompt")}`,
        completionTokens: sql`${apiKeys.completionTokens} + ${p("completion")}`,
        costMicros: sql`${apiKeys.costMicros} + ${p("cost")}`,
      })
      .where(eq(apiKeys.id, p("id")))
      .prepare(),
    // a job owed its credit has its ledger entry now
    creditPaid: db
      .update(jobs)
      .set({ creditPending: null })
      .where(and(eq(jobs.id, p("jobId")), sql`${jobs.creditPending} = 1`))
      .prepare(),
  };
}

/** Methods that are not repository calls: not wrapped in the group commit. */
const INTERNAL = new Set(["constructor", "write", "creditNow", "groupCalls", "checkpointInBackground", "close"]);

/** The calls that only read (no transaction of their own; a test holds each to changing nothing); every other call writes. */
export const SQLITE_READS = [
  "getWorker",
  "listWorkers",
  "getCertificate",
  "listRevokedCertificates",
  "listEnrolmentTokens",
  "findApiKeyByHash",
  "listApiKeys",
  "getModel",
  "listModels",
  "getJob",
  "getJobs",
  "listJobs",
  "uncreditedJobs",
  "listAttempts",
  "countJobs",
  "countOnlineWorkers",
  "hasPlacedJobs",
  "getPrice",
  "listPrices",
  "ledgerTotals",
  "ledgerTotalsByNode",
  "ledgerByDay",
  "listLedger",
  "getAudit",
  "findAuditByJob",
  "listAudits",
  "listCanaries",
] as const satisfies readonly (keyof Repository)[];
const READS: ReadonlySet<string> = new Set(SQLITE_READS);

export class SqliteRepository implements Repository {
  readonly dialect = "sqlite" as const;
  readonly leaseBatchLimit = 1;
  readonly turnsShareCommit = true;
  #closed = false;

  private readonly hot: ReturnType<typeof hotStatements>;

  private readonly group: GroupCommit;
  /** getModel and getPrice answers (lookup-cache.ts): found models, and prices or their absence. */
  readonly #models = new LookupCache<ModelRow | null>(1000, (m) => m !== null);
  readonly #prices = new LookupCache<PriceRow | null>();
  #checkpointer: Checkpointer | null = null;

  constructor(
    private readonly db: Db,
    private readonly client: Database,
    private readonly file: string | null,
  ) {
    this.hot = hotStatements(db);
    this.group = new GroupCommit(client, file);
    this.groupCalls(this.group);
  }

  /**
   * Moves WAL checkpoints to a background thread (sqlite-checkpoint.ts): for the long-running
   * coordinator; a no-op for ":memory:". Returns the checkpointer, or null when it did not start.
   */
  async checkpointInBackground(options: CheckpointerOptions = {}): Promise<Checkpointer | null> {
    if (this.file === null || this.#checkpointer !== null) return this.#checkpointer;
    this.#checkpointer = await Checkpointer.start(this.client, this.file, { writes: this.group, ...options });
    return this.#checkpointer;
  }

  /** Transactions committed so far: one per event-loop turn that called the repository. */
  get commits(): number {
    return this.group.commits;
  }

  private write<T>(fn: (tx: Tx) => T): T {
    return immediate(this.db, fn);
  }

  /** Every method below runs in the turn's group commit (sqlite-group-commit.ts); close() commits first. */
  private groupCalls(group: GroupCommit): void {
    const self = this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of Object.getOwnPropertyNames(SqliteRepository.prototype)) {
      const method = Object.getOwnPropertyDescriptor(SqliteRepository.prototype, name)?.value;
      if (typeof method !== "function" || INTERNAL.has(name)) continue;
      self[name] = READS.has(name)
        ? (...args: unknown[]) => group.read(() => method.apply(this, args))
        : (...args: unknown[]) => group.run(name, () => method.apply(this, args));
    }
  }

  // workers

  async createWorker(row: Pick<WorkerRow, "nodeId" | "clientId" | "name" | "ownerId">, now: number): Promise<WorkerRow> {
    const created = this.db
      .insert(workers)
      .values({ nodeId: row.nodeId, clientId: row.clientId, name: row.name, ownerId: row.ownerId, status: "offline", createdAt: now })
      .returning()
      .get();
    return rows.toWorker(created);
  }

  async getWorker(nodeId: string): Promise<WorkerRow | null> {
    const row = this.hot.worker.get({ nodeId });
    return row ? rows.toWorker(row) : null;
  }

  async listWorkers(): Promise<WorkerRow[]> {
    return this.db.select().from(workers).orderBy(asc(workers.createdAt), asc(workers.nodeId)).all().map(rows.toWorker);
  }

  async updateWorker(nodeId: string, patch: Parameters<Repository["updateWorker"]>[1]): Promise<void> {
    const set = rows.definedOnly(patch);
    if (Object.keys(set).length === 0) return;
    this.db.update(workers).set(set).where(eq(workers.nodeId, nodeId)).run();
  }

  async touchWorkers(nodeIds: string[], status: WorkerRow["status"], at: number): Promise<void> {
    for (const ids of rows.chunks(nodeIds, rows.INSERT_CHUNK))
      this.db.update(workers).set({ status, lastHeartbeatAt: at }).where(inArray(workers.nodeId, ids)).run();
  }

  async markStaleWorkersOffline(before: number): Promise<string[]> {
    const stale = this.db
      .update(workers)
      .set({ status: "offline", instanceId: null })
      .where(and(ne(workers.status, "offline"), sql`coalesce(${workers.lastHeartbeatAt}, ${workers.createdAt}) < ${before}`))
      .returning({ nodeId: workers.nodeId })
      .all();
    return stale.map((r) => r.nodeId).sort();
  }

  // certificates

  async insertCertificate(row: Omit<CertificateRow, "revokedAt" | "revokeReason">): Promise<void> {
    this.db.insert(certificates).values(row).run();
  }

  async getCertificate(serial: string): Promise<CertificateRow | null> {
    const row = this.db.select().from(certificates).where(eq(certificates.serial, serial)).get();
    return row ? rows.toCertificate(row) : null;
  }

  async revokeWorker(nodeId: string, reason: string, now: number): Promise<string[]> {
    return this.write((tx) => {
      tx.update(certificates)
        .set({ revokedAt: now, revokeReason: reason })
        .where(and(eq(certificates.nodeId, nodeId), isNull(certificates.revokedAt)))
        .run();
      tx.update(workers)
        .set({ revokedAt: sql`coalesce(${workers.revokedAt}, ${now})` })
        .where(eq(workers.nodeId, nodeId))
        .run();
      const serials = tx.select({ serial: certificates.serial }).from(certificates).where(eq(certificates.nodeId, nodeId)).all();
      return serials.map((r) => r.serial).sort();
    });
  }

  async listRevokedCertificates(): Promise<CertificateRow[]> {
    return this.db
      .select()
      .from(certificates)
      .where(isNotNull(certificates.revokedAt))
      .orderBy(asc(certificates.revokedAt), asc(certificates.serial))
      .all()
      .map(rows.toCertificate);
  }

  // enrolment tokens

  async createEnrolmentToken(row: Omit<EnrolmentTokenRow, "usedAt" | "usedByNodeId">): Promise<void> {
    this.db.insert(enrolmentTokens).values(row).run();
  }

  async consumeEnrolmentToken(tokenHash: string, nodeId: string, now: number): Promise<ConsumeResult> {
    return this.write((tx): ConsumeResult => {
      const used = tx
        .update(enrolmentTokens)
        .set({ usedAt: now, usedByNodeId: nodeId })
        .where(and(eq(enrolmentTokens.tokenHash, tokenHash), isNull(enrolmentTokens.usedAt), sql`${enrolmentTokens.expiresAt} > ${now}`))
        .returning()
        .get();
      if (used) return { ok: true, token: rows.toEnrolmentToken(used) };
      const token = tx.select().from(enrolmentTokens).where(eq(enrolmentTokens.tokenHash, tokenHash)).get();
      return { ok: false, reason: !token ? "unknown" : token.usedAt !== null ? "used" : "expired" };
    });
  }

  async listEnrolmentTokens(): Promise<EnrolmentTokenRow[]> {
    return this.db
      .select()
      .from(enrolmentTokens)
      .orderBy(asc(enrolmentTokens.createdAt), asc(enrolmentTokens.tokenHash))
      .all()
      .map(rows.toEnrolmentToken);
  }

  // API keys

  async createApiKey(row: Pick<ApiKeyRow, "id" | "keyHash" | "name" | "createdAt">): Promise<void> {
    this.db.insert(apiKeys).values(row).run();
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRow | null> {
    const row = this.db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).get();
    return row ? rows.toApiKey(row) : null;
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    return this.db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)).all().map(rows.toApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const changed = this.db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id })
      .all();
    return changed.length > 0;
  }

  async addApiKeyUsage(id: string, promptTokens: number, completionTokens: number, costMicros: number): Promise<void> {
    this.db
      .update(apiKeys)
      .set({
        promptTokens: sql`${apiKeys.promptTokens} + ${promptTokens}`,
        completionTokens: sql`${apiKeys.completionTokens} + ${completionTokens}`,
        costMicros: sql`${apiKeys.costMicros} + ${costMicros}`,
      })
      .where(eq(apiKeys.id, id))
      .run();
  }

  // models

  async upsertModel(row: ModelRow): Promise<void> {
    const { id: _id, createdAt: _createdAt, ...changes } = row;
    this.#models.delete(row.id);
    this.db.insert(models).values(row).onConflictDoUpdate({ target: models.id, set: changes }).run();
  }

  async getModel(id: string): Promise<ModelRow | null> {
    return this.#models.getSync(id, () => {
      const row = this.hot.model.get({ id });
      return row ? rows.toModel(row) : null;
    });
  }

  async listModels(): Promise<ModelRow[]> {
    return this.db.select().from(models).orderBy(asc(models.id)).all().map(rows.toModel);
  }

  async removeModel(id: string): Promise<boolean> {
    this.#models.delete(id);
    return this.db.delete(models).where(eq(models.id, id)).returning({ id: models.id }).all().length > 0;
  }

  // jobs: the queue itself lives in sqlite-jobs.ts

  enqueueJob(job: NewJob): Promise<JobRow> {
    return jobOps.enqueueJob(this.db, job);
  }

  getJob(id: string): Promise<JobRow | null> {
    return jobOps.getJob(this.db, id);
  }

  async getJobs(ids: readonly string[]): Promise<JobRow[]> {
    return rows
      .chunks([...new Set(ids)], rows.INSERT_CHUNK)
      .flatMap((chunk) => this.db.select().from(jobs).where(inArray(jobs.id, chunk)).all())
      .map(rows.toJob);
  }

  listJobs(filter: JobFilter = {}): Promise<JobRow[]> {
    return jobOps.listJobs(this.db, filter);
  }

  uncreditedJobs(q: UncreditedQuery): Promise<UncreditedJob[]> {
    return uncreditedSqlite(this.db, q);
  }

  leaseNextJob(req: LeaseRequest): Promise<JobRow | null> {
    return jobOps.leaseNextJob(this.db, req);
  }

  leaseNextJobs(req: LeaseBatchRequest): Promise<JobRow[]> {
    return jobOps.leaseNextJobs(this.db, req);
  }

  leaseJob(jobId: string, req: LeaseRequest): Promise<JobRow | null> {
    return jobOps.leaseJob(this.db, jobId, req);
  }

  extendLease(jobId: string, fence: string, until: number): Promise<boolean> {
    return jobOps.extendLease(this.db, jobId, fence, until);
  }

  completeJob(jobId: string, fence: string, result: JobResult, now: number): Promise<JobRow | null> {
    return jobOps.completeJob(this.db, jobId, fence, result, now);
  }

  async completeAndCreditJob(
    jobId: string,
    fence: string,
    result: JobResult,
    now: number,
    credit: CreditRequest | null,
  ): Promise<{ job: JobRow; credit: CreditOutcome | null } | null> {
    return this.write(() => {
      const job = jobOps.completeRunning(this.db, jobId, fence, result, now, credit === null);
      return job ? { job, credit: credit ? this.creditNow(credit) : null } : null;
    });
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
    return jobOps.countJobs(this.db, status);
  }

  deleteFinishedJobs(before: number, limit: number): Promise<number> {
    return jobOps.deleteFinishedJobs(this.db, before, limit);
  }

  countOnlineWorkers(): Promise<number> {
    return jobOps.countOnlineWorkers(this.db);
  }

  hasPlacedJobs(now: number): Promise<boolean> {
    return jobOps.hasPlacedJobs(this.db, now);
  }

  // prices and earnings

  async setPrice(row: PriceRow): Promise<void> {
    const price = ledger.checkPrice(row);
    this.#prices.delete(price.modelId);
    this.db
      .insert(prices)
      .values(price)
      .onConflictDoUpdate({
        target: prices.modelId,
        set: { completionMicrosPer1k: price.completionMicrosPer1k, promptMicrosPer1k: price.promptMicrosPer1k },
      })
      .run();
  }

  async getPrice(modelId: string): Promise<PriceRow | null> {
    return this.#prices.getSync(modelId, () => {
      const row = this.hot.price.get({ modelId });
      return row ? rows.toPrice(row) : null;
    });
  }

  async listPrices(): Promise<PriceRow[]> {
    return this.db.select().from(prices).orderBy(asc(prices.modelId)).all().map(rows.toPrice);
  }

  async creditLedger(entry: LedgerEntry): Promise<boolean> {
    return this.db.insert(earningsLedger).values(entry).onConflictDoNothing().returning({ jobId: earningsLedger.jobId }).all().length > 0;
  }

  async creditJob(entry: Omit<LedgerEntry, "ownerId">, apiKeyId: string | null): Promise<CreditOutcome> {
    return this.write(() => {
      const outcome = this.creditNow({ entry, apiKeyId });
      if (outcome !== "quarantined") this.hot.creditPaid.run({ jobId: entry.jobId });
      return outcome;
    });
  }

  /** creditJob's statements, inside the caller's transaction. */
  private creditNow({ entry, apiKeyId }: CreditRequest): CreditOutcome {
    const hot = this.hot;
    const worker = hot.worker.get({ nodeId: entry.nodeId });
    if (worker?.quarantinedAt != null) return "quarantined";
    if (hot.credit.all({ ...entry, ownerId: worker?.ownerId ?? null }).length === 0) return "already_credited";
    if (apiKeyId !== null)
      hot.keyUsage.run({ id: apiKeyId, prompt: entry.promptTokens, completion: entry.completionTokens, cost: entry.amountMicros });
    return "credited";
  }

  async ledgerTotals(filter: LedgerFilter): Promise<LedgerTotals> {
    const row = this.db
      .select(ledger.totalsSelect(earningsLedger))
      .from(earningsLedger)
      .where(ledger.ledgerWhere(earningsLedger, filter))
      .get();
    return ledger.toTotals(row);
  }

  async ledgerTotalsByNode(): Promise<Map<string, LedgerTotals>> {
    const found = this.db
      .select({ nodeId: earningsLedger.nodeId, ...ledger.totalsSelect(earningsLedger) })
      .from(earningsLedger)
      .groupBy(earningsLedger.nodeId)
      .all();
    return new Map(found.map((r) => [r.nodeId, ledger.toTotals(r)]));
  }

  async ledgerByDay(filter: LedgerFilter, tzOffsetMinutes: number): Promise<{ day: string; amountMicros: number; jobs: number }[]> {
    const day = ledger.localDayExpr(earningsLedger.at, tzOffsetMinutes);
    const { amountMicros, jobs } = ledger.totalsSelect(earningsLedger);
    const found = this.db
      .select({ day, amountMicros, jobs })
      .from(earningsLedger)
      .where(ledger.ledgerWhere(earningsLedger, filter))
      .groupBy(day)
      .orderBy(day)
      .all();
    return found.map((r) => ({ day: ledger.dayString(r.day), amountMicros: r.amountMicros, jobs: r.jobs }));
  }

  async listLedger(filter: LedgerFilter & { limit?: number }): Promise<LedgerEntry[]> {
    const query = this.db
      .select()
      .from(earningsLedger)
      .where(ledger.ledgerWhere(earningsLedger, filter))
      .orderBy(desc(earningsLedger.at), desc(earningsLedger.jobId));
    return (filter.limit !== undefined ? query.limit(filter.limit).all() : query.all()).map(rows.toLedgerEntry);
  }

  // metrics

  async insertMetricSamples(samples: MetricSample[]): Promise<void> {
    if (samples.length === 0) return;
    this.write((tx) => {
      for (const chunk of rows.chunks(samples, rows.INSERT_CHUNK)) tx.insert(metricSamples).values(chunk).run();
    });
  }

  // result verification (issue 9): sqlite-audits.ts

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
    this.group.commit();
    await this.#checkpointer?.stop();
    // writes held for a WAL restart that stop() cut short go through now, before the connection closes
    this.group.resume();
    this.group.commit();
    this.client.close();
  }
}

// The statements every job runs on Postgres (issues 9, 10), each one round trip, built once and
// run as prepared statements: drizzle builds a query's SQL on every call and sends it unprepared
// unless it is named, which cost more than Postgres running it (~550 µs per lookup vs ~190 µs).
import { and, count, eq, fillPlaceholders, getTableColumns, isNotNull, lte, or, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Sql } from "postgres";
import type { Db } from "./pg-jobs.ts";
import { memberPattern, notQuarantined, placementWhere } from "./placement.ts";
import type { JobResult, JobRow, JobStatus, LeaseRequest, LedgerEntry, ModelRow, NewJob, PriceRow, WorkerRow } from "./repository.ts";
import * as rows from "./rows.ts";
import { apiKeys, earningsLedger, jobAttempts, jobs, models, prices, workers } from "./schema-pg.ts";

const p = sql.placeholder;
const dialect = new PgDialect();
const JOB_COLUMNS = Object.entries(getTableColumns(jobs));

/** A `returning *` row of jobs (column names, driver values) as drizzle would have mapped it. */
function jobFromRaw(raw: Record<string, unknown>): typeof jobs.$inferSelect {
  const out: Record<string, unknown> = {};
  for (const [key, column] of JOB_COLUMNS) {
    const v = raw[column.name];
    out[key] = v === null || v === undefined ? null : column.mapFromDriverValue(v);
  }
  return out as typeof jobs.$inferSelect;
}

/** A statement written with drizzle's `sql` and placeholders, rendered once, run prepared by postgres.js. */
function prepared<Row>(client: Sql, query: SQL): (values: Record<string, unknown>) => Promise<Row[]> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return (values) => client.unsafe(text, fillPlaceholders(params, values) as never[], { prepare: true }) as unknown as Promise<Row[]>;
}

/** Leases the job `pick` selects and adds its attempt row; `update` re-checks `status = 'queued'` under the row lock. */
function leaseSql(pick: SQL): SQL {
  return sql`
    with next as ${pick},
    leased as (
      update ${jobs} set "status" = 'running', "attempts" = ${jobs.attempts} + 1, "worker_id" = ${p("worker")}::text,
        "fence" = ${p("fence")}::text, "lease_expires_at" = ${p("until")}::bigint,
        "started_at" = coalesce(${jobs.startedAt}, ${p("now")}::bigint), "updated_at" = ${p("now")}::bigint
      from next where ${jobs.id} = next.id and ${jobs.status} = 'queued'
      returning ${jobs}.*
    ),
    attempt as (
      insert into ${jobAttempts} ("job_id", "attempt", "worker_id", "fence", "started_at", "outcome")
      select "id", "attempts", ${p("worker")}::text, ${p("fence")}::text, ${p("now")}::bigint, 'running' from leased
    )
    select * from leased`;
}

export type CreditOutcome = "credited" | "already_credited" | "quarantined";

/** The per-job statements of one Postgres repository. */
export class PgHotPath {
  private readonly next;
  private readonly one;
  private readonly complete;
  private readonly credit;
  private readonly insert;
  private readonly get;
  private readonly extend;
  private readonly count;
  private readonly placed;
  private readonly worker;
  private readonly model;
  private readonly price;

  constructor(db: Db, client: Sql) {
    const where = and(
      eq(jobs.status, "queued"),
      sql`${jobs.model} = m.model`,
      lte(jobs.availableAt, sql`${p("now")}::bigint`),
      placementWhere(jobs, { workerId: sql`${p("worker")}::text`, workerClass: sql`${p("cls")}::text`, member: sql`${p("member")}::text` }),
      notQuarantined(workers, sql`${p("worker")}::text`),
    );
    // the best job of each model straight from jobs_lease_idx, then the best of those: with
    // `model = any(...)` Postgres sorts every matching queued job for each lease. Rows other
    // coordinators hold are skipped, not waited for. (`priority desc` is the index's order: the
    // column is NOT NULL, so NULLS FIRST changes nothing but lets the index give the order.)
    const order = sql`${jobs.priority} desc, ${jobs.createdAt}, ${jobs.seq}`;
    this.next = prepared<Record<string, unknown>>(
      client,
      leaseSql(
        sql`(select c.id from unnest(${p("models")}::text[]) as m(model) cross join lateral
          (select ${jobs.id}, ${jobs.priority}, ${jobs.createdAt}, ${jobs.seq} from ${jobs} where ${where} order by ${order} limit 1 for update skip locked) c
          order by c.priority desc, c.created_at, c.seq limit 1)`,
      ),
    );
    this.one = prepared<Record<string, unknown>>(client, leaseSql(sql`(select ${p("id")}::text as id)`));
    this.complete = prepared<Record<string, unknown>>(
      client,
      sql`
      with done as (
        update ${jobs} set "status" = 'completed', "result_text" = ${p("text")}::text, "finish_reason" = ${p("finishReason")}::text,
          "prompt_tokens" = ${p("promptTokens")}::int, "completion_tokens" = ${p("completionTokens")}::int, "error" = null,
          "lease_expires_at" = null, "finished_at" = ${p("now")}::bigint, "updated_at" = ${p("now")}::bigint
        where ${jobs.id} = ${p("id")}::text and ${jobs.fence} = ${p("fence")}::text and ${jobs.status} = 'running'
        returning ${jobs}.*
      ),
      ended as (
        update ${jobAttempts} set "outcome" = 'completed', "error" = null, "ended_at" = ${p("now")}::bigint
        where ${jobAttempts.jobId} in (select "id" from done) and ${jobAttempts.fence} = ${p("fence")}::text and ${jobAttempts.outcome} = 'running'
      )
      select * from done`,
    );
    this.credit = prepared<{ inserted: number; quarantined: boolean }>(
      client,
      sql`
      with w as (select ${workers.ownerId} as owner_id, ${workers.quarantinedAt} is not null as quarantined from ${workers} where ${workers.nodeId} = ${p("nodeId")}::text),
      ins as (
        insert into ${earningsLedger} ("job_id", "node_id", "owner_id", "model", "prompt_tokens", "completion_tokens", "amount_micros", "at")
        select ${p("jobId")}::text, ${p("nodeId")}::text, (select owner_id from w), ${p("model")}::text, ${p("promptTokens")}::int,
          ${p("completionTokens")}::int, ${p("amountMicros")}::bigint, ${p("at")}::bigint
        where not exists (select 1 from w where quarantined)
        on conflict do nothing
        returning "job_id"
      ),
      usage as (
        update ${apiKeys} set "prompt_tokens" = ${apiKeys.promptTokens} + ${p("promptTokens")}::int,
          "completion_tokens" = ${apiKeys.completionTokens} + ${p("completionTokens")}::int,
          "cost_micros" = ${apiKeys.costMicros} + ${p("amountMicros")}::bigint
        where ${apiKeys.id} = ${p("apiKeyId")}::text and exists (select 1 from ins)
      )
      select (select count(*) from ins)::int as inserted, exists (select 1 from w where quarantined) as quarantined`,
    );
    this.insert = db.insert(jobs).values(rows.JOB_INSERT_VALUES).returning().prepare("gogrid_enqueue_job");
    this.get = db
      .select()
      .from(jobs)
      .where(eq(jobs.id, p("id")))
      .prepare("gogrid_get_job");
    this.extend = db
      .update(jobs)
      .set({ leaseExpiresAt: sql`${p("until")}::bigint` })
      .where(and(eq(jobs.id, p("id")), eq(jobs.fence, p("fence")), eq(jobs.status, "running")))
      .returning({ id: jobs.id })
      .prepare("gogrid_extend_lease");
    this.count = db
      .select({ n: count() })
      .from(jobs)
      .where(eq(jobs.status, p("status")))
      .prepare("gogrid_count_jobs");
    this.placed = db
      .select({ id: jobs.id })
      .from(jobs)
      .where(
        and(
          eq(jobs.status, "queued"),
          lte(jobs.availableAt, sql`${p("now")}::bigint`),
          or(isNotNull(jobs.targetWorker), isNotNull(jobs.avoidWorkers)),
        ),
      )
      .limit(1)
      .prepare("gogrid_placed_jobs");
    this.worker = db
      .select()
      .from(workers)
      .where(eq(workers.nodeId, p("nodeId")))
      .prepare("gogrid_get_worker");
    this.model = db
      .select()
      .from(models)
      .where(eq(models.id, p("id")))
      .prepare("gogrid_get_model");
    this.price = db
      .select()
      .from(prices)
      .where(eq(prices.modelId, p("modelId")))
      .prepare("gogrid_get_price");
  }

  async enqueueJob(job: NewJob): Promise<JobRow> {
    const [row] = await this.insert.execute(rows.jobInsertParams(job));
    return rows.toJob(row!);
  }

  async getJob(id: string): Promise<JobRow | null> {
    const [row] = await this.get.execute({ id });
    return row ? rows.toJob(row) : null;
  }

  /** The best queued job the worker may run, leased with its attempt row, in one statement. */
  async leaseNextJob(req: LeaseRequest): Promise<JobRow | null> {
    if (req.models.length === 0) return null;
    return this.jobOrNull(
      await this.next({
        models: req.models,
        now: req.now,
        worker: req.workerId,
        cls: req.workerClass ?? null,
        member: memberPattern(req.workerId),
        fence: req.fence,
        until: req.now + req.leaseMs,
      }),
    );
  }

  /** Leases one specific queued job; null when it is no longer queued. */
  async leaseJob(jobId: string, req: LeaseRequest): Promise<JobRow | null> {
    return this.jobOrNull(
      await this.one({ id: jobId, now: req.now, worker: req.workerId, fence: req.fence, until: req.now + req.leaseMs }),
    );
  }

  private jobOrNull(found: Record<string, unknown>[]): JobRow | null {
    const raw = found[0];
    return raw ? rows.toJob(jobFromRaw(raw)) : null;
  }

  async extendLease(jobId: string, fence: string, until: number): Promise<boolean> {
    return (await this.extend.execute({ id: jobId, fence, until })).length > 0;
  }

  /** Completes the job and closes its attempt in one statement if `fence` is still current. */
  async completeJob(jobId: string, fence: string, result: JobResult, now: number): Promise<JobRow | null> {
    return this.jobOrNull(await this.complete({ id: jobId, fence, now, ...result }));
  }

  async creditJob(entry: Omit<LedgerEntry, "ownerId">, apiKeyId: string | null): Promise<CreditOutcome> {
    const [r] = await this.credit({ ...entry, apiKeyId });
    if (r?.quarantined) return "quarantined";
    return Number(r?.inserted ?? 0) > 0 ? "credited" : "already_credited";
  }

  async countJobs(status: JobStatus): Promise<number> {
    const [row] = await this.count.execute({ status });
    return row?.n ?? 0;
  }

  async hasPlacedJobs(now: number): Promise<boolean> {
    return (await this.placed.execute({ now })).length > 0;
  }

  async getWorker(nodeId: string): Promise<WorkerRow | null> {
    const [row] = await this.worker.execute({ nodeId });
    return row ? rows.toWorker(row) : null;
  }

  async getModel(id: string): Promise<ModelRow | null> {
    const [row] = await this.model.execute({ id });
    return row ? rows.toModel(row) : null;
  }

  async getPrice(modelId: string): Promise<PriceRow | null> {
    const [row] = await this.price.execute({ modelId });
    return row ? rows.toPrice(row) : null;
  }
}

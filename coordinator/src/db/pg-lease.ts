// The statements every job runs on Postgres (issues 9, 10), built once and run as prepared
// statements (enqueues and completions batched, pg-batch.ts): drizzle builds a query's SQL on every call and sends it unprepared
// unless it is named, which cost more than Postgres running it (~550 µs per lookup vs ~190 µs).
import { and, count, eq, fillPlaceholders, getTableColumns, isNotNull, lte, or, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Sql } from "postgres";
import { StatementBatcher } from "./pg-batch.ts";
import type { Db } from "./pg-jobs.ts";
import { memberPattern, notQuarantined, placementWhere } from "./placement.ts";
import type {
  CreditOutcome,
  CreditRequest,
  JobResult,
  JobRow,
  JobStatus,
  LeaseBatchRequest,
  LeaseRequest,
  LedgerEntry,
  ModelRow,
  NewJob,
  PriceRow,
  WorkerRow,
} from "./repository.ts";
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

/** A batched statement's row `r`: [column, its placeholder (an array of one value per row), SQL type]. */
type Columns = readonly (readonly [column: string, placeholder: string, type: string])[];

const COMPLETION_COLUMNS: Columns = [
  ["id", "ids", "text"],
  ["fence", "fences", "text"],
  ["text", "texts", "text"],
  ["finish_reason", "finishReasons", "text"],
  ["prompt_tokens", "promptTokens", "int"],
  ["completion_tokens", "completionTokens", "int"],
  ["now", "nows", "bigint"],
  ["c_node", "cNodes", "text"],
  ["c_model", "cModels", "text"],
  ["c_prompt", "cPrompt", "int"],
  ["c_completion", "cCompletion", "int"],
  ["c_amount", "cAmounts", "bigint"],
  ["c_at", "cAts", "bigint"],
  ["c_key", "cKeys", "text"],
];

const ENQUEUE_COLUMNS: Columns = [
  ["id", "ids", "text"],
  ["api_key_id", "apiKeyIds", "text"],
  ["model", "models", "text"],
  ["request", "requests", "text"],
  ["priority", "priorities", "int"],
  ["max_attempts", "maxAttempts", "int"],
  ["now", "nows", "bigint"],
  ["timeout_ms", "timeouts", "bigint"],
  ["origin", "origins", "text"],
  ["purpose", "purposes", "text"],
  ["target", "targets", "text"],
  ["avoid", "avoids", "text"],
  ["cls", "classes", "text"],
];

/**
 * The rows `r` (plus `ord`, their order) of a batched statement: from `unnest` of one array per
 * column for many, from plain placeholders for one. Postgres plans the one-row form once for all
 * calls; an unnest of arrays whose length it does not know it planned again at every call, which
 * cost more than it saved for a single job.
 */
function rowSource(columns: Columns, many: boolean): SQL {
  const names = sql.raw(columns.map(([c]) => c).join(", "));
  if (!many)
    return sql`(select ${sql.join(
      columns.map(([c, ph, type]) => sql`${p(ph)}::${sql.raw(type)} as ${sql.raw(c)}`),
      sql`, `,
    )}, 1 as ord)`;
  return sql`(select * from unnest(${sql.join(
    columns.map(([, ph, type]) => sql`${p(ph)}::${sql.raw(type)}[]`),
    sql`, `,
  )}) with ordinality as r(${names}, ord))`;
}

/** A statement over rowSource's rows, prepared in both forms; called with per-column arrays and the row count. */
function batchedStatement<Row>(
  client: Sql,
  build: (many: boolean) => SQL,
): (values: Record<string, unknown[]>, n: number) => Promise<Row[]> {
  const one = prepared<Row>(client, build(false));
  const many = prepared<Row>(client, build(true));
  return (values, n) => (n === 1 ? one(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v[0]]))) : many(values));
}

/**
 * Leases the jobs `pick` selects (rows of `id`, `fence`) and adds their attempt rows. `pick` locks
 * its rows FOR UPDATE with `status = 'queued'` in its WHERE (re-checked on the row it locked), so
 * the update needs only the primary key: a status test there let the planner, on a table it had
 * no statistics for, scan the whole queue and join each row against the picked ones.
 */
function leaseSql(pick: SQL): SQL {
  return sql`
    with next as ${pick},
    leased as (
      update ${jobs} set "status" = 'running', "attempts" = ${jobs.attempts} + 1, "worker_id" = ${p("worker")}::text,
        "fence" = next.fence, "lease_expires_at" = ${p("until")}::bigint,
        "started_at" = coalesce(${jobs.startedAt}, ${p("now")}::bigint), "updated_at" = ${p("now")}::bigint
      from next where ${jobs.id} = next.id
      returning ${jobs}.*
    ),
    attempt as (
      insert into ${jobAttempts} ("job_id", "attempt", "worker_id", "fence", "started_at", "outcome")
      select "id", "attempts", ${p("worker")}::text, "fence", ${p("now")}::bigint, 'running' from leased
    )
    select * from leased`;
}

interface CreditRaw {
  gogrid_inserted: number;
  gogrid_quarantined: boolean;
}

/**
 * creditJob for the rows of a CTE `credits` (job_id, node_id, model, prompt_tokens,
 * completion_tokens, amount_micros, at, api_key_id): `w` their workers, `ins` their ledger entries
 * (none for a quarantined worker or a job already in the ledger), `usage` each API key's tokens and
 * cost summed over the entries inserted.
 */
const CREDIT_CTES = sql`
    w as (select ${workers.nodeId} as node_id, ${workers.ownerId} as owner_id, ${workers.quarantinedAt} is not null as quarantined
      from ${workers} where ${workers.nodeId} in (select node_id from credits)),
    ins as (
      insert into ${earningsLedger} ("job_id", "node_id", "owner_id", "model", "prompt_tokens", "completion_tokens", "amount_micros", "at")
      select c.job_id, c.node_id, w.owner_id, c.model, c.prompt_tokens, c.completion_tokens, c.amount_micros, c.at
      from credits c left join w on w.node_id = c.node_id where not coalesce(w.quarantined, false)
      on conflict do nothing
      returning "job_id"
    ),
    usage as (
      update ${apiKeys} set "prompt_tokens" = ${apiKeys.promptTokens} + u.prompt_tokens,
        "completion_tokens" = ${apiKeys.completionTokens} + u.completion_tokens, "cost_micros" = ${apiKeys.costMicros} + u.amount_micros
      from (select c.api_key_id, sum(c.prompt_tokens) as prompt_tokens, sum(c.completion_tokens) as completion_tokens,
          sum(c.amount_micros) as amount_micros
        from credits c join ins on ins.job_id = c.job_id where c.api_key_id is not null group by c.api_key_id) u
      where ${apiKeys.id} = u.api_key_id
    )`;

function creditOutcome(r: CreditRaw | undefined): CreditOutcome {
  if (r?.gogrid_quarantined) return "quarantined";
  return Number(r?.gogrid_inserted ?? 0) > 0 ? "credited" : "already_credited";
}

/** One completeJob / completeAndCreditJob call, for the batched statement. */
interface Completion {
  id: string;
  fence: string;
  result: JobResult;
  now: number;
  credit: CreditRequest | null;
}

/** The batched completion's placeholders: one array per column, one element per call. */
function completionParams(calls: Completion[]): Record<string, unknown[]> {
  const entry = (c: Completion) => c.credit?.entry;
  return {
    ids: calls.map((c) => c.id),
    fences: calls.map((c) => c.fence),
    texts: calls.map((c) => c.result.text),
    finishReasons: calls.map((c) => c.result.finishReason),
    promptTokens: calls.map((c) => c.result.promptTokens),
    completionTokens: calls.map((c) => c.result.completionTokens),
    nows: calls.map((c) => c.now),
    cNodes: calls.map((c) => entry(c)?.nodeId ?? null),
    cModels: calls.map((c) => entry(c)?.model ?? null),
    cPrompt: calls.map((c) => entry(c)?.promptTokens ?? null),
    cCompletion: calls.map((c) => entry(c)?.completionTokens ?? null),
    cAmounts: calls.map((c) => entry(c)?.amountMicros ?? null),
    cAts: calls.map((c) => entry(c)?.at ?? null),
    cKeys: calls.map((c) => c.credit?.apiKeyId ?? null),
  };
}

/** The batched enqueue's placeholders: one array per column, one element per job. */
function enqueueParams(jobsIn: NewJob[]): Record<string, unknown[]> {
  const values = jobsIn.map(rows.jobInsertParams);
  const column = (name: string) => values.map((v) => v[name] ?? null);
  return {
    ids: column("id"),
    apiKeyIds: column("apiKeyId"),
    models: column("model"),
    requests: values.map((v) => JSON.stringify(v.request)),
    priorities: column("priority"),
    maxAttempts: column("maxAttempts"),
    nows: column("now"),
    timeouts: column("timeoutMs"),
    origins: column("originInstance"),
    purposes: column("purpose"),
    targets: column("targetWorker"),
    avoids: column("avoidWorkers"),
    classes: column("workerClass"),
  };
}

/** The per-job statements of one Postgres repository. */
export class PgHotPath {
  private readonly next;
  private readonly nextOfModel;
  private readonly one;
  private readonly completeMany;
  private readonly credit;
  private readonly insertMany;
  /** Completions and enqueues of many jobs go in one statement each (pg-batch.ts). */
  private readonly completions;
  private readonly enqueues;
  private readonly get;
  private readonly extend;
  private readonly count;
  private readonly placed;
  private readonly worker;
  private readonly model;
  private readonly price;

  constructor(db: Db, client: Sql) {
    const where = (model: SQL) =>
      and(
        eq(jobs.status, "queued"),
        sql`${jobs.model} = ${model}`,
        lte(jobs.availableAt, sql`${p("now")}::bigint`),
        placementWhere(jobs, {
          workerId: sql`${p("worker")}::text`,
          workerClass: sql`${p("cls")}::text`,
          member: sql`${p("member")}::text`,
        }),
        notQuarantined(workers, sql`${p("worker")}::text`),
      );
    // the best `n` jobs straight from jobs_lease_idx, numbered to take the fences in order. Rows
    // other coordinators hold are skipped, not waited for. (`nulls last` is the index's order,
    // "priority" DESC NULLS LAST: the column is NOT NULL, so it changes nothing but lets the
    // index give the order; with Postgres's default for DESC, NULLS FIRST, every lease sorted
    // all the model's queued jobs.)
    const order = sql`${jobs.priority} desc nulls last, ${jobs.createdAt}, ${jobs.seq}`;
    const best = (model: SQL) =>
      sql`(select ${jobs.id}, ${jobs.priority}, ${jobs.createdAt}, ${jobs.seq} from ${jobs} where ${where(model)} order by ${order}
        limit ${p("n")}::int for update skip locked)`;
    const numbered = (from: SQL) =>
      sql`(select c.id, (${p("fences")}::text[])[row_number() over (order by c.priority desc, c.created_at, c.seq)] as fence from ${from} c)`;
    // one model (the common case) without unnest: Postgres then plans it once for all calls (a
    // generic plan), where the unnest's unknown length kept it planning every lease again
    this.nextOfModel = prepared<Record<string, unknown>>(client, leaseSql(numbered(best(sql`${p("model")}::text`))));
    // several: each model's best `n`, then the best `n` of those (with `model = any(...)`
    // Postgres sorts every matching queued job for each lease)
    this.next = prepared<Record<string, unknown>>(
      client,
      leaseSql(
        numbered(
          sql`(select c.* from unnest(${p("models")}::text[]) as m(model) cross join lateral ${best(sql`m.model`)} c
            order by c.priority desc, c.created_at, c.seq limit ${p("n")}::int)`,
        ),
      ),
    );
    this.one = prepared<Record<string, unknown>>(
      client,
      leaseSql(
        sql`(select ${jobs.id}, ${p("fence")}::text as fence from ${jobs} where ${jobs.id} = ${p("id")}::text and ${jobs.status} = 'queued' for update)`,
      ),
    );
    // the completions of many jobs, each with its credit or none (c_node null), in one statement.
    // `jobs.id = any(...)` as well as the join, so the planner looks rows up by primary key even
    // on a table it has no statistics for (the join alone let it walk the running jobs). "Still
    // running" is `lease_expires_at is not null` (the same thing: check jobs_lease_only_running),
    // not `status = 'running'`, which it answered from jobs_lease_idx instead, walking the entries
    // of every job completed since the last vacuum: 43-75 buffers a job at ~700 jobs/s, now ~37.
    const completeSql = (many: boolean) => sql`
      with r as ${rowSource(COMPLETION_COLUMNS, many)},
      done as (
        update ${jobs} set "status" = 'completed', "result_text" = r.text, "finish_reason" = r.finish_reason,
          "prompt_tokens" = r.prompt_tokens, "completion_tokens" = r.completion_tokens, "error" = null,
          "lease_expires_at" = null, "finished_at" = r.now, "updated_at" = r.now,
          "credit_pending" = case when r.c_node is null and ${jobs.purpose} = 'client' and r.completion_tokens > 0 then true end
        from r where ${jobs.id} = any(array(select id from r)) and ${jobs.id} = r.id and ${jobs.fence} = r.fence and ${jobs.leaseExpiresAt} is not null
        returning ${jobs}.*
      ),
      ended as (
        update ${jobAttempts} set "outcome" = 'completed', "error" = null, "ended_at" = done.finished_at
        from done where ${jobAttempts.jobId} = done.id and ${jobAttempts.fence} = done.fence and ${jobAttempts.outcome} = 'running'
      ),
      credits as (
        select r.id as job_id, r.c_node as node_id, r.c_model as model, r.c_prompt as prompt_tokens, r.c_completion as completion_tokens,
          r.c_amount as amount_micros, r.c_at as at, r.c_key as api_key_id
        from r join done on done.id = r.id where r.c_node is not null
      ),
      ${CREDIT_CTES}
      select done.*, r.c_node is not null as gogrid_credit, exists (select 1 from ins where ins.job_id = done.id) as gogrid_inserted,
        coalesce((select w.quarantined from w where w.node_id = r.c_node), false) as gogrid_quarantined
      from done join r on r.id = done.id`;
    this.completeMany = batchedStatement<Record<string, unknown> & CreditRaw & { gogrid_credit: boolean }>(client, completeSql);
    this.credit = prepared<CreditRaw>(
      client,
      sql`
      with credits as (
        select ${p("jobId")}::text as job_id, ${p("nodeId")}::text as node_id, ${p("model")}::text as model, ${p("promptTokens")}::int as prompt_tokens,
          ${p("completionTokens")}::int as completion_tokens, ${p("amountMicros")}::bigint as amount_micros, ${p("at")}::bigint as at,
          ${p("apiKeyId")}::text as api_key_id
      ),
      ${CREDIT_CTES},
      paid as (
        update ${jobs} set "credit_pending" = null
        where ${jobs.id} in (select job_id from credits) and ${jobs.creditPending} and not exists (select 1 from w where quarantined)
      )
      select (select count(*) from ins)::int as gogrid_inserted, exists (select 1 from w where quarantined) as gogrid_quarantined`,
    );
    this.completions = new StatementBatcher<Completion, { job: JobRow; credit: CreditOutcome | null } | null>(async (calls) => {
      const found = await this.completeMany(completionParams(calls), calls.length);
      const byId = new Map(found.map((raw) => [raw.id as string, raw]));
      return calls.map((c) => {
        const raw = byId.get(c.id);
        if (!raw || raw.fence !== c.fence) return null;
        return { job: rows.toJob(jobFromRaw(raw)), credit: raw.gogrid_credit ? creditOutcome(raw) : null };
      });
    });
    this.insertMany = batchedStatement<Record<string, unknown>>(
      client,
      (many) => sql`
      insert into ${jobs} ("id", "api_key_id", "model", "request", "status", "priority", "attempts", "max_attempts", "available_at",
        "timeout_ms", "origin_instance", "created_at", "updated_at", "purpose", "target_worker", "avoid_workers", "worker_class")
      select r.id, r.api_key_id, r.model, r.request::jsonb, 'queued', r.priority, 0, r.max_attempts, r.now, r.timeout_ms, r.origin,
        r.now, r.now, r.purpose, r.target, r.avoid, r.cls
      from ${rowSource(ENQUEUE_COLUMNS, many)} r
      order by r.ord
      returning *`,
    );
    // in submission order: `seq`, the tie-break within a millisecond, follows the rows' order
    this.enqueues = new StatementBatcher<NewJob, JobRow>(async (batch) => {
      const found = await this.insertMany(enqueueParams(batch), batch.length);
      const byId = new Map(found.map((raw) => [raw.id as string, rows.toJob(jobFromRaw(raw))]));
      return batch.map((j) => {
        const row = byId.get(j.id);
        if (!row) throw new Error(`job ${j.id} was not inserted`);
        return row;
      });
    });
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

  enqueueJob(job: NewJob): Promise<JobRow> {
    return this.enqueues.add(job);
  }

  async getJob(id: string): Promise<JobRow | null> {
    const [row] = await this.get.execute({ id });
    return row ? rows.toJob(row) : null;
  }

  /** The best queued jobs the worker may run, up to one per fence, leased with their attempt rows in one statement. */
  async leaseNextJobs(req: LeaseBatchRequest): Promise<JobRow[]> {
    if (req.models.length === 0 || req.fences.length === 0) return [];
    const models = [...new Set(req.models)];
    const found = await (models.length === 1 ? this.nextOfModel : this.next)({
      models,
      model: models[0],
      n: req.fences.length,
      fences: req.fences,
      now: req.now,
      worker: req.workerId,
      cls: req.workerClass ?? null,
      member: memberPattern(req.workerId),
      until: req.now + req.leaseMs,
    });
    // in the order they were picked (the fences' order): `returning` keeps none
    const order = new Map(req.fences.map((f, i) => [f, i]));
    return found.map((raw) => rows.toJob(jobFromRaw(raw))).sort((a, b) => (order.get(a.fence!) ?? 0) - (order.get(b.fence!) ?? 0));
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

  /** Completes the job and closes its attempt if `fence` is still current (batched with others). */
  async completeJob(jobId: string, fence: string, result: JobResult, now: number): Promise<JobRow | null> {
    return (await this.completions.add({ id: jobId, fence, result, now, credit: null }))?.job ?? null;
  }

  async creditJob(entry: Omit<LedgerEntry, "ownerId">, apiKeyId: string | null): Promise<CreditOutcome> {
    const [r] = await this.credit({ ...entry, apiKeyId });
    return creditOutcome(r);
  }

  /** completeJob and, if it completed, creditJob in one statement (batched with others). */
  completeAndCreditJob(
    jobId: string,
    fence: string,
    result: JobResult,
    now: number,
    credit: CreditRequest | null,
  ): Promise<{ job: JobRow; credit: CreditOutcome | null } | null> {
    return this.completions.add({ id: jobId, fence, result, now, credit });
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

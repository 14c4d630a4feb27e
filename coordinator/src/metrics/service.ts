// CoordinatorMetrics: the coordinator's Prometheus metrics on a registry of its own.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import {
  ATTEMPT_RESULTS,
  type AttemptResult,
  AUDIT_KINDS,
  AUDIT_OUTCOMES,
  type AuditKindLabel,
  COLLECT_SOURCES,
  type CollectSource,
  DURATION_BUCKETS,
  JOB_OUTCOMES,
  type JobOutcomeLabel,
  LATENCY_BUCKETS,
  TOKEN_KINDS,
  UNMATCHED_ROUTE,
  WORKER_STATES,
  type WorkerState,
  WS_ERROR_KINDS,
  type WsErrorKind,
} from "./model.ts";

export interface MetricsOptions {
  /** Workers per state, read at every scrape (e.g. counted in the database); missing states read 0. */
  workerCounts?: () => Promise<Partial<Record<WorkerState, number>>>;
  /** Jobs waiting in the queue, read at every scrape. */
  queueDepth?: () => Promise<number>;
  /** Workers quarantined now (issue 9), read at every scrape. */
  quarantinedCount?: () => Promise<number>;
  /** Also export prom-client's process_* and nodejs_* metrics (default false: tests build many instances). */
  defaultMetrics?: boolean;
  /** A scrape-time source failed (also counted by `gogrid_metrics_collect_errors_total{source}`). */
  onCollectError?: (source: CollectSource, error: unknown) => void;
}

/** Milliseconds → seconds; null for values no metric should take (NaN, ±Infinity, negative). */
function seconds(ms: number): number | null {
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : null;
}

function amount(n: number): number | null {
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * One coordinator's metrics. Recording methods never throw (a bad number is dropped), so they are
 * safe to call from job and socket paths.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly jobs: Counter<"outcome">;
  private readonly attempts: Counter<"result">;
  private readonly queueWait: Histogram;
  private readonly ttft: Histogram;
  private readonly duration: Histogram;
  private readonly tokenCount: Counter<"kind">;
  private readonly httpRequests: Counter<"route" | "status">;
  private readonly httpErrors: Counter<"route" | "status">;
  private readonly wsErrors: Counter<"kind">;
  private readonly credits: Counter;
  private readonly collectErrors: Counter<"source">;
  private readonly audits: Counter<"kind" | "outcome">;
  private readonly quarantines: Counter;
  private readonly updates: Counter<"result">;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.jobs = new Counter({
      name: "gogrid_jobs_total",
      help: "Jobs that reached a final state, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.attempts = new Counter({
      name: "gogrid_job_attempts_total",
      help: "Job attempt events: started on a worker, lost with its worker, queued again for a retry.",
      labelNames: ["result"],
      registers,
    });
    this.queueWait = new Histogram({
      name: "gogrid_queue_wait_seconds",
      help: "Time from enqueue to a job's first lease.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: "gogrid_time_to_first_token_seconds",
      help: "Time from enqueue to the first generated token reaching the coordinator.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.duration = new Histogram({
      name: "gogrid_job_duration_seconds",
      help: "Time from a job's first lease to its final state, retries included.",
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.tokenCount = new Counter({ name: "gogrid_tokens_total", help: "Tokens of completed jobs.", labelNames: ["kind"], registers });
    this.httpRequests = new Counter({
      name: "gogrid_http_requests_total",
      help: "HTTP requests on the API port, by matched route pattern and status.",
      labelNames: ["route", "status"],
      registers,
    });
    this.httpErrors = new Counter({
      name: "gogrid_http_errors_total",
      help: "HTTP responses with status 400 or above, by matched route pattern and status.",
      labelNames: ["route", "status"],
      registers,
    });
    this.wsErrors = new Counter({
      name: "gogrid_ws_errors_total",
      help: "Worker socket errors, by kind.",
      labelNames: ["kind"],
      registers,
    });
    this.credits = new Counter({ name: "gogrid_credits_micros_total", help: "Earnings credited to workers, in micro-units.", registers });
    // The registry starts every metric's collection in registration order, before awaiting any:
    // the error counter, registered after the gauges, waits for their sources before it is read.
    const pending: Promise<void>[] = [];
    const read = (source: CollectSource, fill: () => Promise<void>, failed: () => void): Promise<void> => {
      const p = fill().catch((e: unknown) => {
        failed();
        this.collectErrors.inc({ source });
        options.onCollectError?.(source, e);
      });
      pending.push(p);
      return p;
    };
    this.audits = new Counter({
      name: "gogrid_audits_total",
      help: "Result checks that ended (audit re-runs and canaries), by kind and outcome; mismatch = someone's result was wrong.",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.quarantines = new Counter({
      name: "gogrid_quarantines_total",
      help: "Workers quarantined because their trust fell below the threshold.",
      registers,
    });
    this.updates = new Counter({
      name: "gogrid_worker_updates_total",
      help: "Worker self-updates reported (update_complete), by result: ok, or the refusal or rollback code.",
      labelNames: ["result"],
      registers,
    });
    const { workerCounts, queueDepth, quarantinedCount } = options;
    new Gauge({
      name: "gogrid_quarantined_workers",
      help: "Workers quarantined at scrape time (NaN when the count failed).",
      registers,
      collect() {
        if (!quarantinedCount) return;
        return read(
          "quarantined",
          async () => this.set(await quarantinedCount()),
          () => this.set(Number.NaN),
        );
      },
    });
    new Gauge({
      name: "gogrid_workers",
      help: "Workers by state, as stored at scrape time (no samples when the count failed).",
      labelNames: ["state"],
      registers,
      collect() {
        if (!workerCounts) return;
        return read(
          "workers",
          async () => {
            const counts = await workerCounts();
            for (const state of WORKER_STATES) this.set({ state }, counts[state] ?? 0);
          },
          () => this.reset(),
        );
      },
    });
    new Gauge({
      name: "gogrid_queue_depth",
      help: "Jobs waiting in the queue at scrape time (NaN when the count failed).",
      registers,
      collect() {
        if (!queueDepth) return;
        return read(
          "queue_depth",
          async () => this.set(await queueDepth()),
          () => this.set(Number.NaN),
        );
      },
    });
    this.collectErrors = new Counter({
      name: "gogrid_metrics_collect_errors_total",
      help: "Scrape-time sources (database counts) that failed.",
      labelNames: ["source"],
      registers,
      async collect() {
        await Promise.all(pending.splice(0));
      },
    });
    // every known series exists from the start, so rate() and absent() behave from the first scrape
    for (const outcome of JOB_OUTCOMES) this.jobs.inc({ outcome }, 0);
    for (const result of ATTEMPT_RESULTS) this.attempts.inc({ result }, 0);
    for (const kind of TOKEN_KINDS) this.tokenCount.inc({ kind }, 0);
    for (const kind of WS_ERROR_KINDS) this.wsErrors.inc({ kind }, 0);
    for (const source of COLLECT_SOURCES) this.collectErrors.inc({ source }, 0);
    for (const kind of AUDIT_KINDS) for (const outcome of AUDIT_OUTCOMES) this.audits.inc({ kind, outcome }, 0);
    this.quarantines.inc(0);
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A job reached a final state; `runMs` (first lease → end) feeds the duration histogram when known. */
  jobFinished(outcome: JobOutcomeLabel, runMs?: number): void {
    this.jobs.inc({ outcome });
    const s = runMs === undefined ? null : seconds(runMs);
    if (s !== null) this.duration.observe(s);
  }

  /** One attempt event (call `attempt_started` on every assignment, first or retry). */
  attempt(result: AttemptResult): void {
    this.attempts.inc({ result });
  }

  /** A job got its first lease, `queueWaitMs` after it was enqueued (not for retries). */
  jobStarted(queueWaitMs: number): void {
    const s = seconds(queueWaitMs);
    if (s !== null) this.queueWait.observe(s);
  }

  /** The first token of a job arrived, `ms` after the job was enqueued. */
  firstToken(ms: number): void {
    const s = seconds(ms);
    if (s !== null) this.ttft.observe(s);
  }

  tokens(prompt: number, completion: number): void {
    const p = amount(prompt);
    const c = amount(completion);
    if (p !== null) this.tokenCount.inc({ kind: "prompt" }, p);
    if (c !== null) this.tokenCount.inc({ kind: "completion" }, c);
  }

  /** One HTTP response; `route` is the matched pattern (`/api/v1/jobs/:id`), never the raw URL. */
  http(route: string | null | undefined, status: number): void {
    const labels = { route: route || UNMATCHED_ROUTE, status: String(status) };
    this.httpRequests.inc(labels);
    if (status >= 400) this.httpErrors.inc(labels);
  }

  wsError(kind: WsErrorKind): void {
    this.wsErrors.inc({ kind });
  }

  /** Earnings credited (once per completed job), in micro-units of the currency. */
  credited(micros: number): void {
    const m = amount(micros);
    if (m !== null) this.credits.inc(m);
  }

  /** A result check ended (issue 9); open states ("waiting", "running", "tiebreak") are not counted. */
  audit(kind: AuditKindLabel, outcome: string): void {
    if ((AUDIT_OUTCOMES as readonly string[]).includes(outcome)) this.audits.inc({ kind, outcome });
  }

  /** A worker reported a self-update: "ok" or its error code. */
  workerUpdate(result: string): void {
    this.updates.inc({ result: /^[a-z][a-z0-9_]{0,63}$/.test(result) ? result : "other" });
  }

  /** A worker was quarantined. */
  quarantined(): void {
    this.quarantines.inc();
  }

  /** The Prometheus text exposition of every metric; runs the scrape-time sources. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

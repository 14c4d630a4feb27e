import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { metricsRoutes } from "./index.ts";
import { DURATION_BUCKETS, JOB_OUTCOMES, LATENCY_BUCKETS, WORKER_STATES, type WorkerState } from "./model.ts";
import { CoordinatorMetrics, type MetricsOptions } from "./service.ts";
import { type Exposition, find, scrape, value } from "./test-support.ts";

function setup(options: MetricsOptions = {}) {
  const metrics = new CoordinatorMetrics(options);
  return { metrics, app: new Elysia().use(metricsRoutes(metrics)) };
}

/** Checks a histogram's invariants and returns its buckets as [le, cumulative count]. */
function histogram(e: Exposition, name: string, bounds: number[]): { buckets: [number, number][]; count: number; sum: number } {
  expect(e.types.get(name)).toBe("histogram");
  const buckets = find(e, `${name}_bucket`).map(
    (s) => [Number(s.labels.le === "+Inf" ? Infinity : s.labels.le), s.value] as [number, number],
  );
  expect(buckets.map(([le]) => le)).toEqual([...bounds, Infinity]);
  for (let i = 1; i < buckets.length; i++) expect(buckets[i]![1]).toBeGreaterThanOrEqual(buckets[i - 1]![1]);
  const count = value(e, `${name}_count`) as number;
  const sum = value(e, `${name}_sum`) as number;
  expect(buckets.at(-1)![1]).toBe(count);
  return { buckets, count, sum };
}

const cumulative = (buckets: [number, number][], le: number) => buckets.find(([b]) => b === le)?.[1];

describe("CoordinatorMetrics", () => {
  test("starts with every known counter series at zero and typed", async () => {
    const e = await scrape(setup().app);
    for (const outcome of JOB_OUTCOMES) expect(value(e, "gogrid_jobs_total", { outcome })).toBe(0);
    for (const result of ["attempt_started", "worker_lost", "retried"]) expect(value(e, "gogrid_job_attempts_total", { result })).toBe(0);
    for (const kind of ["invalid_frame", "auth_failed", "handshake_timeout", "closed_abnormally"])
      expect(value(e, "gogrid_ws_errors_total", { kind })).toBe(0);
    expect(e.types.get("gogrid_jobs_total")).toBe("counter");
    expect(e.types.get("gogrid_workers")).toBe("gauge");
    expect(e.types.get("gogrid_queue_depth")).toBe("gauge");
    expect(value(e, "gogrid_credits_micros_total")).toBe(0);
    expect(histogram(e, "gogrid_queue_wait_seconds", LATENCY_BUCKETS).count).toBe(0);
    // no default metrics unless asked for
    expect(e.samples.some((s) => s.name.startsWith("process_") || s.name.startsWith("nodejs_"))).toBe(false);
  });

  test("counts job outcomes, attempts, tokens, socket errors and credits", async () => {
    const { metrics, app } = setup();
    metrics.jobFinished("completed");
    metrics.jobFinished("completed");
    metrics.jobFinished("dead");
    metrics.jobFinished("rejected");
    metrics.attempt("attempt_started");
    metrics.attempt("attempt_started");
    metrics.attempt("worker_lost");
    metrics.attempt("retried");
    metrics.tokens(12, 30);
    metrics.tokens(3, 0);
    metrics.wsError("invalid_frame");
    metrics.wsError("auth_failed");
    metrics.wsError("auth_failed");
    metrics.credited(1500);
    metrics.credited(250);
    const e = await scrape(app);
    expect(value(e, "gogrid_jobs_total", { outcome: "completed" })).toBe(2);
    expect(value(e, "gogrid_jobs_total", { outcome: "dead" })).toBe(1);
    expect(value(e, "gogrid_jobs_total", { outcome: "rejected" })).toBe(1);
    expect(value(e, "gogrid_jobs_total", { outcome: "timeout" })).toBe(0);
    expect(value(e, "gogrid_job_attempts_total", { result: "attempt_started" })).toBe(2);
    expect(value(e, "gogrid_job_attempts_total", { result: "worker_lost" })).toBe(1);
    expect(value(e, "gogrid_job_attempts_total", { result: "retried" })).toBe(1);
    expect(value(e, "gogrid_tokens_total", { kind: "prompt" })).toBe(15);
    expect(value(e, "gogrid_tokens_total", { kind: "completion" })).toBe(30);
    expect(value(e, "gogrid_ws_errors_total", { kind: "invalid_frame" })).toBe(1);
    expect(value(e, "gogrid_ws_errors_total", { kind: "auth_failed" })).toBe(2);
    expect(value(e, "gogrid_ws_errors_total", { kind: "closed_abnormally" })).toBe(0);
    expect(value(e, "gogrid_credits_micros_total")).toBe(1750);
  });

  test("histograms take milliseconds and expose seconds, with monotonic buckets", async () => {
    const { metrics, app } = setup();
    for (const ms of [3, 40, 40, 2_000, 700_000]) metrics.jobStarted(ms);
    metrics.firstToken(120);
    metrics.firstToken(9_000);
    metrics.jobFinished("completed", 4_500);
    metrics.jobFinished("failed", 90_000);
    metrics.jobFinished("cancelled"); // run time unknown: counted, not observed
    const e = await scrape(app);

    const wait = histogram(e, "gogrid_queue_wait_seconds", LATENCY_BUCKETS);
    expect(wait.count).toBe(5);
    expect(wait.sum).toBeCloseTo(702.083, 6);
    expect(cumulative(wait.buckets, 0.005)).toBe(1);
    expect(cumulative(wait.buckets, 0.05)).toBe(3);
    expect(cumulative(wait.buckets, 2.5)).toBe(4);
    expect(cumulative(wait.buckets, 600)).toBe(4); // 700 s lands only in +Inf

    const ttft = histogram(e, "gogrid_time_to_first_token_seconds", LATENCY_BUCKETS);
    expect(ttft.count).toBe(2);
    expect(ttft.sum).toBeCloseTo(9.12, 6);
    expect(cumulative(ttft.buckets, 0.1)).toBe(0);
    expect(cumulative(ttft.buckets, 0.25)).toBe(1);

    const run = histogram(e, "gogrid_job_duration_seconds", DURATION_BUCKETS);
    expect(run.count).toBe(2);
    expect(run.sum).toBeCloseTo(94.5, 6);
    expect(cumulative(run.buckets, 5)).toBe(1);
    expect(cumulative(run.buckets, 120)).toBe(2);
    expect(value(e, "gogrid_jobs_total", { outcome: "cancelled" })).toBe(1);
  });

  test("drops numbers no metric should take instead of throwing", async () => {
    const { metrics, app } = setup();
    expect(() => {
      metrics.jobStarted(-1);
      metrics.jobStarted(Number.NaN);
      metrics.firstToken(Number.POSITIVE_INFINITY);
      metrics.jobFinished("failed", -5);
      metrics.tokens(-1, Number.NaN);
      metrics.credited(-10);
    }).not.toThrow();
    const e = await scrape(app);
    expect(value(e, "gogrid_queue_wait_seconds_count")).toBe(0);
    expect(value(e, "gogrid_time_to_first_token_seconds_count")).toBe(0);
    expect(value(e, "gogrid_job_duration_seconds_count")).toBe(0);
    expect(value(e, "gogrid_jobs_total", { outcome: "failed" })).toBe(1);
    expect(value(e, "gogrid_tokens_total", { kind: "prompt" })).toBe(0);
    expect(value(e, "gogrid_credits_micros_total")).toBe(0);
  });

  test("worker and queue gauges read the injected sources at scrape time", async () => {
    let counts: Partial<Record<WorkerState, number>> = { idle: 2, busy: 1 };
    let depth = 7;
    let calls = 0;
    const { app } = setup({
      workerCounts: async () => {
        calls++;
        return counts;
      },
      queueDepth: async () => depth,
    });
    let e = await scrape(app);
    expect(calls).toBe(1);
    expect(value(e, "gogrid_workers", { state: "idle" })).toBe(2);
    expect(value(e, "gogrid_workers", { state: "busy" })).toBe(1);
    for (const state of WORKER_STATES) expect(value(e, "gogrid_workers", { state })).toBeNumber();
    expect(value(e, "gogrid_workers", { state: "offline" })).toBe(0);
    expect(value(e, "gogrid_queue_depth")).toBe(7);

    counts = { idle: 0, busy: 3, paused: 1, throttled: 2, offline: 5 };
    depth = 0;
    e = await scrape(app);
    expect(calls).toBe(2);
    expect(value(e, "gogrid_workers", { state: "idle" })).toBe(0);
    expect(value(e, "gogrid_workers", { state: "busy" })).toBe(3);
    expect(value(e, "gogrid_workers", { state: "paused" })).toBe(1);
    expect(value(e, "gogrid_workers", { state: "throttled" })).toBe(2);
    expect(value(e, "gogrid_workers", { state: "offline" })).toBe(5);
    expect(value(e, "gogrid_queue_depth")).toBe(0);
  });

  test("a failing source empties its gauge and is counted; the scrape still succeeds", async () => {
    const seen: string[] = [];
    let broken = true;
    const { app } = setup({
      workerCounts: async () => {
        if (broken) throw new Error("database down");
        return { idle: 4 };
      },
      queueDepth: async () => {
        if (broken) throw new Error("database down");
        return 3;
      },
      onCollectError: (source, error) => seen.push(`${source}: ${(error as Error).message}`),
    });
    let e = await scrape(app);
    expect(find(e, "gogrid_workers")).toHaveLength(0);
    expect(value(e, "gogrid_queue_depth")).toBeNaN();
    expect(value(e, "gogrid_metrics_collect_errors_total", { source: "workers" })).toBe(1);
    expect(value(e, "gogrid_metrics_collect_errors_total", { source: "queue_depth" })).toBe(1);
    expect(seen.sort()).toEqual(["queue_depth: database down", "workers: database down"]);
    broken = false;
    e = await scrape(app);
    expect(value(e, "gogrid_workers", { state: "idle" })).toBe(4);
    expect(value(e, "gogrid_queue_depth")).toBe(3);
    expect(value(e, "gogrid_metrics_collect_errors_total", { source: "workers" })).toBe(1);
  });

  test("result checks: audits by kind and outcome, quarantines, quarantined workers at scrape time", async () => {
    let quarantined = 2;
    const { app, metrics } = setup({ quarantinedCount: async () => quarantined });
    let e = await scrape(app);
    expect(value(e, "gogrid_audits_total", { kind: "canary", outcome: "mismatch" })).toBe(0);
    expect(value(e, "gogrid_quarantined_workers")).toBe(2);
    metrics.audit("audit", "match");
    metrics.audit("audit", "mismatch");
    metrics.audit("canary", "mismatch");
    metrics.audit("audit", "running"); // an open state is not an outcome
    metrics.quarantined();
    quarantined = 3;
    e = await scrape(app);
    expect(value(e, "gogrid_audits_total", { kind: "audit", outcome: "match" })).toBe(1);
    expect(value(e, "gogrid_audits_total", { kind: "audit", outcome: "mismatch" })).toBe(1);
    expect(value(e, "gogrid_audits_total", { kind: "canary", outcome: "mismatch" })).toBe(1);
    expect(find(e, "gogrid_audits_total").some((s) => s.labels.outcome === "running")).toBe(false);
    expect(value(e, "gogrid_quarantines_total")).toBe(1);
    expect(value(e, "gogrid_quarantined_workers")).toBe(3);
  });

  test("instances keep separate registries; default metrics are opt-in", async () => {
    const a = setup();
    const b = setup({ defaultMetrics: true });
    a.metrics.jobFinished("completed");
    const [ea, eb] = [await scrape(a.app), await scrape(b.app)];
    expect(value(ea, "gogrid_jobs_total", { outcome: "completed" })).toBe(1);
    expect(value(eb, "gogrid_jobs_total", { outcome: "completed" })).toBe(0);
    expect(eb.samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(ea.samples.some((s) => s.name.startsWith("process_"))).toBe(false);
  });
});

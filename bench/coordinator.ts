// `bun run bench:coordinator`: jobs/s and per-job overhead (p50/p99) of one coordinator with instantly answering simulated workers.
//
// Per store (SQLite, Postgres): the coordinator, the simulated workers and the load clients each
// run in their own processes, so the coordinator's CPU is measured alone. Three modes:
//   serial — one job in flight: the bare per-job overhead;
//   max    — closed loop with --concurrency jobs in flight: the most jobs/s;
//   rate   — open loop offering --rate jobs/s for --seconds (issue 9: 1,000/s for 60 s, p50 ≤ 2 ms, p99 ≤ 10 ms).
// Last stdout line: a JSON array, one object per store and mode.
import { parseFlags } from "./flags.ts";
import { finish, machine, progress, ratio, round, table, verdict } from "./report.ts";
import { BENCH_MODEL_ID, closeAll, type LoadFigures, runLoad, startCoordinatorChild, startFleet } from "./stack.ts";

/** pg-boss's published figure (its README, 4 CPUs): an anchor printed beside ours, not measured here. */
export const PG_BOSS_PUBLISHED_JOBS_PER_S = 2387;
export const GOALS = { rate: 1000, seconds: 60, p50_ms: 2, p99_ms: 10 };

export interface CoordinatorBenchOptions {
  stores: ("sqlite" | "postgres")[];
  modes: ("serial" | "max" | "rate")[];
  workers: number;
  concurrency: number;
  /** Seconds of the serial and max modes. */
  seconds: number;
  rate: number;
  rateSeconds: number;
  /** Unmeasured seconds at the offered rate before the rate mode's measured ones (JIT, page cache, WAL). */
  rateWarmupSeconds: number;
  clients: number;
  log: (line: string) => void;
}

export interface CoordinatorRun {
  store: string;
  mode: string;
  offered_rate: number | null;
  /** Rate mode: unmeasured seconds at the offered rate before the measured ones. */
  warmup_seconds: number | null;
  concurrency: number;
  workers: number;
  jobs_sent: number;
  jobs_completed: number;
  jobs_wrong: number;
  jobs_failed: number;
  /** Open loop: sends skipped because the in-flight cap was reached (the coordinator fell behind). */
  sends_skipped: number;
  first_error: string | null;
  seconds: number;
  jobs_per_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  client_send_late_p99_ms: number;
  coordinator_cpu_pct: number | null;
  coordinator_cpu_ms_per_job: number | null;
  coordinator_rss_mb: number | null;
  pg_boss_published_jobs_per_s: number;
  ratio_vs_pg_boss_published: number | null;
  /** Rate mode at ≥ 1,000/s for ≥ 60 s: every offered job done, p50 ≤ 2 ms and p99 ≤ 10 ms; else null. */
  goal_met: boolean | null;
}

function toRun(store: string, mode: string, o: CoordinatorBenchOptions, f: LoadFigures, rate: number | null, conc: number): CoordinatorRun {
  const judged = mode === "rate" && rate !== null && rate >= GOALS.rate && f.seconds >= GOALS.seconds;
  const allDone = f.skipped === 0 && f.errors === 0 && f.wrong === 0;
  return {
    store,
    mode,
    offered_rate: rate,
    warmup_seconds: mode === "rate" ? o.rateWarmupSeconds : null,
    concurrency: conc,
    workers: o.workers,
    jobs_sent: f.sent,
    jobs_completed: f.ok,
    jobs_wrong: f.wrong,
    jobs_failed: f.errors,
    sends_skipped: f.skipped,
    first_error: f.first_error,
    seconds: f.seconds,
    jobs_per_s: f.jobs_per_s,
    p50_ms: f.p50_ms,
    p99_ms: f.p99_ms,
    max_ms: f.max_ms,
    client_send_late_p99_ms: f.send_late_p99_ms,
    coordinator_cpu_pct: f.coordinator?.cpu_pct ?? null,
    coordinator_cpu_ms_per_job: f.coordinator_cpu_ms_per_job,
    coordinator_rss_mb: f.coordinator?.rss_mb_max ?? null,
    pg_boss_published_jobs_per_s: PG_BOSS_PUBLISHED_JOBS_PER_S,
    ratio_vs_pg_boss_published: round(ratio(f.jobs_per_s, PG_BOSS_PUBLISHED_JOBS_PER_S), 4),
    goal_met: judged ? allDone && (f.p50_ms ?? 1e9) <= GOALS.p50_ms && (f.p99_ms ?? 1e9) <= GOALS.p99_ms : null,
  };
}

/** Runs the chosen modes on each store; every store gets a fresh coordinator and fleet. */
export async function benchCoordinator(o: CoordinatorBenchOptions): Promise<CoordinatorRun[]> {
  const runs: CoordinatorRun[] = [];
  for (const store of o.stores) {
    o.log(`${store}: starting a coordinator and ${o.workers} instant workers`);
    const c = await startCoordinatorChild({ postgres: store === "postgres" });
    let fleet: Awaited<ReturnType<typeof startFleet>> | null = null;
    try {
      fleet = await startFleet(c, {
        workers: o.workers,
        processes: 1,
        spec: { mode: "instant", capacity: 256, heartbeat: true },
        requireAll: true,
      });
      const base = { model: BENCH_MODEL_ID, max_tokens: 1, stream: false } as const;
      // a short warm-up: JIT, prepared statements, connection pools
      await runLoad(c, { ...base, mode: "closed", concurrency: 4, seconds: 1 }, 1);
      for (const mode of o.modes) {
        o.log(`${store}: ${mode}`);
        if (mode === "serial") {
          const f = await runLoad(c, { ...base, mode: "closed", concurrency: 1, seconds: o.seconds }, 1);
          runs.push(toRun(store, mode, o, f, null, 1));
        } else if (mode === "max") {
          const f = await runLoad(c, { ...base, mode: "closed", concurrency: o.concurrency, seconds: o.seconds }, o.clients);
          runs.push(toRun(store, mode, o, f, null, o.concurrency));
        } else {
          // in flight at most 2 s of the offered rate: past that the coordinator has fallen behind
          const cap = Math.max(16, o.rate * 2);
          const open = { ...base, mode: "open", rate: o.rate, concurrency: cap } as const;
          // the steady state is what is judged: the first seconds at a new rate compile code
          // paths the warm-up above did not reach and grow the WAL and the page cache
          if (o.rateWarmupSeconds > 0) await runLoad(c, { ...open, seconds: o.rateWarmupSeconds }, o.clients);
          const f = await runLoad(c, { ...open, seconds: o.rateSeconds }, o.clients);
          runs.push(toRun(store, mode, o, f, o.rate, cap));
        }
        const r = runs[runs.length - 1] as CoordinatorRun;
        o.log(
          `${store} ${mode}: ${r.jobs_per_s} jobs/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, coordinator ${r.coordinator_cpu_pct}% CPU`,
        );
      }
    } finally {
      await closeAll([...(fleet?.children ?? []), c.child]);
    }
  }
  return runs;
}

export function coordinatorTable(runs: CoordinatorRun[]): string {
  const rows: unknown[][] = runs.map((r) => [
    r.store,
    r.mode === "rate"
      ? `rate ${r.offered_rate}/s (after ${r.warmup_seconds} s unmeasured)`
      : r.mode === "max"
        ? `max (${r.concurrency} in flight)`
        : "serial (1 in flight)",
    r.jobs_completed,
    r.jobs_failed + r.jobs_wrong + r.sends_skipped,
    r.jobs_per_s,
    r.p50_ms,
    r.p99_ms,
    r.coordinator_cpu_pct,
    r.coordinator_cpu_ms_per_job,
    r.coordinator_rss_mb,
    r.mode === "rate" ? verdict(r.goal_met) : "",
  ]);
  rows.push(["pg-boss", "published (4 CPUs), not measured here", "", "", PG_BOSS_PUBLISHED_JOBS_PER_S, "", "", "", "", "", ""]);
  return table(
    ["store", "mode", "completed", "failed/skipped", "jobs/s", "p50 ms", "p99 ms", "coord CPU %", "CPU ms/job", "RSS MB", "goal"],
    rows,
  );
}

if (import.meta.main) {
  const FLAGS = {
    stores: { type: "string", default: "sqlite,postgres", description: "stores to measure: sqlite, postgres" },
    modes: { type: "string", default: "serial,max,rate", description: "modes: serial, max, rate" },
    workers: { type: "string", default: "4", description: "simulated workers (each takes 256 jobs at once)" },
    concurrency: { type: "string", default: "64", description: "jobs in flight in the max mode" },
    seconds: { type: "string", default: "10", description: "seconds of the serial and max modes" },
    rate: { type: "string", default: "200", description: "jobs/s offered in the rate mode (issue 9: 1000)" },
    "rate-seconds": { type: "string", default: "10", description: "seconds of the rate mode (issue 9: 60)" },
    "rate-warmup-seconds": {
      type: "string",
      default: "5",
      description: "unmeasured seconds at the rate before the measured ones (0: none)",
    },
    clients: { type: "string", default: "2", description: "load client processes" },
    quick: { type: "boolean", default: false, description: "a short smoke run (2 s per mode, rate 100/s)" },
  } as const;
  const f = parseFlags("bench:coordinator", FLAGS, Bun.argv.slice(2));
  const quick = f.bool("quick");
  const o: CoordinatorBenchOptions = {
    stores: f.list("stores", ["sqlite", "postgres"]) as CoordinatorBenchOptions["stores"],
    modes: f.list("modes", ["serial", "max", "rate"]) as CoordinatorBenchOptions["modes"],
    workers: f.num("workers", 1),
    concurrency: f.num("concurrency", 1),
    seconds: quick ? 2 : f.num("seconds", 1, true),
    rate: quick ? 100 : f.num("rate", 1, true),
    rateSeconds: quick ? 2 : f.num("rate-seconds", 1, true),
    rateWarmupSeconds: quick ? 0 : f.num("rate-warmup-seconds", 0, true),
    clients: f.num("clients", 1),
    log: progress("coordinator"),
  };
  const runs = await benchCoordinator(o);
  const head = `bench:coordinator — ${machine()}; instant simulated workers; latency = client-observed, request → answer`;
  finish(`${head}\n\n${coordinatorTable(runs)}\n`, runs);
}

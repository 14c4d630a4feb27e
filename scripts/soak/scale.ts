// Soak part "scale" (issue 9): 10,000 idle mTLS workers on one coordinator, and 1,000 jobs/s for 60 s, judged against the goals.
//
// Reuses bench/connections.ts and bench/coordinator.ts (coordinator, simulated workers and load
// clients each in their own processes). Quick: 50 workers and 100 jobs/s for 3 s; pass = every
// worker connected and heartbeating, every job completed (goals are not judged). Full: the goals
// (≤ 1 GB RSS and ≤ 10% of one core at steady heartbeat; every job done, p50 ≤ 2 ms, p99 ≤ 10 ms).
import { benchConnections, CONNECTION_GOALS } from "../../bench/connections.ts";
import { benchCoordinator, GOALS } from "../../bench/coordinator.ts";
import { type PartOptions, type PartResult, prefixed, type SoakPart } from "./part.ts";

export const scale: SoakPart = {
  name: "scale",
  describe: "10,000 idle mTLS workers on one coordinator; 1,000 jobs/s for 60 s (quick: 50 workers, 100 jobs/s for 3 s)",
  async run(opts: PartOptions): Promise<PartResult> {
    const failures: string[] = [];
    const figures: PartResult["figures"] = { quick: opts.quick, store: opts.postgres ? "postgres" : "sqlite" };
    const workers = opts.quick ? 50 : CONNECTION_GOALS.workers;
    const conn = await benchConnections({
      workers,
      processes: opts.quick ? 2 : 8,
      heartbeatSecs: opts.quick ? 2 : 15,
      steadySeconds: opts.quick ? 4 : 60,
      connectLimitSeconds: opts.quick ? 120 : 1800,
      log: opts.log,
    });
    prefixed(figures, "connections", conn, [
      "workers_asked",
      "workers_attempted",
      "workers_connected",
      "connect_seconds",
      "heartbeats_sent",
      "heartbeat_acks",
      "coordinator_rss_mb",
      "coordinator_cpu_pct",
      "rss_mb_per_1000",
      "cpu_pct_per_1000",
    ]);
    if (conn.workers_connected !== workers) failures.push(`${conn.workers_connected}/${workers} workers connected (${conn.first_error})`);
    if (conn.gateway_ready_sockets !== conn.workers_connected) {
      failures.push(`the gateway holds ${conn.gateway_ready_sockets} ready sockets, ${conn.workers_connected} workers connected`);
    }
    // a beat sent at either edge of the window may be acknowledged on the other side of it
    const unacked = Math.abs(Number(conn.heartbeats_sent) - Number(conn.heartbeat_acks));
    if (Number(conn.heartbeats_sent) === 0 || unacked > Number(conn.workers_connected)) {
      failures.push(`heartbeats: ${conn.heartbeats_sent} sent, ${conn.heartbeat_acks} acknowledged in the steady window`);
    }
    if (!opts.quick && conn.goal_met !== true) {
      failures.push(
        `10k connections: RSS ${conn.coordinator_rss_mb} MB (goal ≤ ${CONNECTION_GOALS.rss_mb}), CPU ${conn.coordinator_cpu_pct}% (goal ≤ ${CONNECTION_GOALS.cpu_pct}%)`,
      );
    }

    const [rate] = await benchCoordinator({
      stores: [opts.postgres ? "postgres" : "sqlite"],
      modes: ["rate"],
      workers: 4,
      concurrency: 64,
      seconds: 1,
      rate: opts.quick ? 100 : GOALS.rate,
      rateSeconds: opts.quick ? 3 : GOALS.seconds,
      rateWarmupSeconds: opts.quick ? 0 : 5,
      clients: 2,
      log: opts.log,
    });
    if (!rate) throw new Error("the coordinator bench returned no rate run");
    prefixed(figures, "rate", rate, [
      "offered_rate",
      "seconds",
      "jobs_sent",
      "jobs_completed",
      "jobs_failed",
      "sends_skipped",
      "jobs_per_s",
      "p50_ms",
      "p99_ms",
      "coordinator_cpu_pct",
    ]);
    const notDone = rate.jobs_failed + rate.jobs_wrong;
    if (notDone > 0 || rate.jobs_completed === 0) failures.push(`rate run: ${notDone} jobs failed or wrong (${rate.first_error})`);
    if (!opts.quick && rate.goal_met !== true) {
      failures.push(
        `${GOALS.rate} jobs/s × ${GOALS.seconds} s: ${rate.jobs_per_s} jobs/s, ${rate.sends_skipped} not sent (coordinator behind), p50 ${rate.p50_ms} ms (goal ≤ ${GOALS.p50_ms}), p99 ${rate.p99_ms} ms (goal ≤ ${GOALS.p99_ms})`,
      );
    }
    return { part: "scale", pass: failures.length === 0, figures, failures };
  },
};

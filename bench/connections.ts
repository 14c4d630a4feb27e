// `bun run bench:connections`: coordinator RSS and CPU per 1,000 idle mTLS workers at steady heartbeat.
//
// The workers enrol for real (single-use tokens, CSR, certificate), hold a real mTLS WebSocket to
// the gateway and send heartbeats at the interval the coordinator asks for; they run in several
// child processes. Issue 9's scale run: --workers 10000 (goal: ≤ 1 GB RSS, ≤ 10% of one core).
// Last stdout line: one JSON object.
import { parseFlags } from "./flags.ts";
import { rssMb, watchProcess } from "./proc-stats.ts";
import { finish, machine, progress, round, table, verdict } from "./report.ts";
import { closeAll, fileLimits, fleetStats, startCoordinatorChild, startFleet } from "./stack.ts";

export const CONNECTION_GOALS = { workers: 10_000, rss_mb: 1024, cpu_pct: 10 };

export interface ConnectionsOptions {
  workers: number;
  processes: number;
  heartbeatSecs: number;
  /** Seconds of steady state measured after every worker is connected. */
  steadySeconds: number;
  /** Seconds the workers may take to connect; the bench then measures those connected. */
  connectLimitSeconds: number;
  log: (line: string) => void;
}

export async function benchConnections(o: ConnectionsOptions): Promise<Record<string, unknown>> {
  const limits = fileLimits();
  const c = await startCoordinatorChild({ postgres: false, heartbeatSecs: o.heartbeatSecs });
  let fleet: Awaited<ReturnType<typeof startFleet>> | null = null;
  try {
    await Bun.sleep(500);
    const rssIdle = rssMb(c.child.pid);
    o.log(`connecting ${o.workers} workers from ${o.processes} processes (open files: soft ${limits.soft}, hard ${limits.hard})`);
    const connecting = watchProcess(c.child.pid);
    fleet = await startFleet(c, {
      workers: o.workers,
      processes: o.processes,
      spec: { mode: "instant", capacity: 1, heartbeat: true, parallel: 8, limitSeconds: o.connectLimitSeconds },
    });
    const connectWindow = connecting?.stop() ?? null;
    o.log(
      `${fleet.connected} connected, ${fleet.failed} of ${fleet.attempted} attempts failed in ${fleet.seconds.toFixed(1)} s${fleet.errors[0] ? `: ${fleet.errors[0]}` : ""}`,
    );
    // one heartbeat interval to settle (the first beats are spread over it), then the steady window
    await Bun.sleep(Math.min(o.heartbeatSecs, 15) * 1000);
    const before = await fleetStats(fleet);
    const steady = watchProcess(c.child.pid, 500);
    await Bun.sleep(o.steadySeconds * 1000);
    const w = steady?.stop() ?? null;
    const after = await fleetStats(fleet);
    const gateway = Number((await c.child.request("workers")).connected);
    const n = fleet.connected;
    const rss = w?.rss_mb_end ?? null;
    const perK = (v: number | null) => (v === null || n === 0 ? null : round((v * 1000) / n, 2));
    const judged = o.workers >= CONNECTION_GOALS.workers;
    return {
      workers_asked: o.workers,
      workers_connected: n,
      workers_attempted: fleet.attempted,
      workers_failed: fleet.failed,
      connect_retries: fleet.retries,
      connect_limit_s: o.connectLimitSeconds,
      connect_limit_reached: fleet.attempted < o.workers,
      first_error: fleet.errors[0] ?? null,
      gateway_ready_sockets: gateway,
      sockets_open_at_end: after.open ?? 0,
      client_processes: o.processes,
      open_files_soft: limits.soft,
      open_files_hard: limits.hard,
      connect_seconds: round(fleet.seconds, 1),
      connects_per_s: round(n / fleet.seconds, 1),
      connect_coordinator_cpu_pct: round(connectWindow?.cpu_pct, 1),
      heartbeat_secs: o.heartbeatSecs,
      steady_seconds: round(w?.seconds, 1),
      heartbeats_sent: (after.heartbeats ?? 0) - (before.heartbeats ?? 0),
      heartbeat_acks: (after.acks ?? 0) - (before.acks ?? 0),
      coordinator_rss_idle_mb: round(rssIdle, 1),
      coordinator_rss_mb: round(rss, 1),
      coordinator_rss_max_mb: round(w?.rss_mb_max, 1),
      coordinator_cpu_pct: round(w?.cpu_pct, 2),
      rss_mb_per_1000: perK(rss !== null && rssIdle !== null ? rss - rssIdle : null),
      cpu_pct_per_1000: perK(w?.cpu_pct ?? null),
      goal_rss_mb: CONNECTION_GOALS.rss_mb,
      goal_cpu_pct: CONNECTION_GOALS.cpu_pct,
      goal_met:
        judged && rss !== null && w ? n >= o.workers && rss <= CONNECTION_GOALS.rss_mb && w.cpu_pct <= CONNECTION_GOALS.cpu_pct : null,
    };
  } finally {
    await closeAll([...(fleet?.children ?? []), c.child]);
  }
}

export function connectionsTable(r: Record<string, unknown>): string {
  return table(
    ["workers", "connected", "connect s", "heartbeats", "acks", "RSS MB", "RSS MB/1000", "CPU %", "CPU %/1000", "goal (10k: ≤1 GB, ≤10%)"],
    [
      [
        r.workers_asked,
        r.workers_connected,
        r.connect_seconds,
        r.heartbeats_sent,
        r.heartbeat_acks,
        r.coordinator_rss_mb,
        r.rss_mb_per_1000,
        r.coordinator_cpu_pct,
        r.cpu_pct_per_1000,
        verdict(r.goal_met as boolean | null),
      ],
    ],
  );
}

if (import.meta.main) {
  const FLAGS = {
    workers: { type: "string", default: "500", description: "idle workers to connect (issue 9: 10000)" },
    processes: { type: "string", default: "", description: "client processes (default: one per 1,250 workers, 2 to 8)" },
    "heartbeat-secs": { type: "string", default: "15", description: "heartbeat interval the coordinator asks for" },
    seconds: { type: "string", default: "30", description: "seconds of steady state measured" },
    "connect-limit": { type: "string", default: "900", description: "seconds to connect; then those connected are measured" },
    quick: { type: "boolean", default: false, description: "a short smoke run (50 workers, 2 s heartbeats, 5 s)" },
  } as const;
  const f = parseFlags("bench:connections", FLAGS, Bun.argv.slice(2));
  const quick = f.bool("quick");
  const workers = quick ? 50 : f.num("workers", 1);
  const r = await benchConnections({
    workers,
    processes: f.str("processes") ? f.num("processes", 1) : Math.min(8, Math.max(2, Math.ceil(workers / 1250))),
    heartbeatSecs: quick ? 2 : f.num("heartbeat-secs", 1),
    steadySeconds: quick ? 5 : f.num("seconds", 1, true),
    connectLimitSeconds: f.num("connect-limit", 1, true),
    log: progress("connections"),
  });
  const head = `bench:connections — ${machine()}; idle mTLS workers with heartbeats; per 1000 = (RSS − idle RSS) and CPU over connected workers`;
  finish(`${head}\n\n${connectionsTable(r)}\n`, r);
}

// The pieces the service benches share: a coordinator child, simulated worker fleets and load clients, each its own process.
import { join } from "node:path";
import { JsonChild } from "./child.ts";
import type { LoadResult, LoadSpec } from "./load-client.ts";
import { type ProcWindow, watchProcess } from "./proc-stats.ts";
import { percentile, round } from "./report.ts";
import type { FleetSpec } from "./sim-fleet.ts";

const DIR = import.meta.dir;

/** The model id every bench job asks for (registered by coord-server.ts). */
export const BENCH_MODEL_ID = "stories260K";

/** Runs `cmd` with the open-file limit raised to the hard limit (one socket per worker); the pid stays bun's. */
export function withMaxFiles(cmd: string[]): string[] {
  if (process.platform === "win32") return cmd;
  return ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...cmd];
}

/** The open-file limits this shell's children get: soft (before raising) and hard. */
export function fileLimits(): { soft: number | null; hard: number | null } {
  const read = (flag: string) => {
    const p = Bun.spawnSync(["sh", "-c", `ulimit ${flag}`], { stdout: "pipe" });
    const n = Number(p.stdout.toString().trim());
    return Number.isFinite(n) ? n : null;
  };
  return { soft: read("-Sn"), hard: read("-Hn") };
}

export interface CoordinatorChild {
  child: JsonChild;
  apiUrl: string;
  key: string;
  store: "sqlite" | "postgres";
}

export async function startCoordinatorChild(o: { postgres: boolean; heartbeatSecs?: number }): Promise<CoordinatorChild> {
  // e.g. GOGRID_BENCH_COORDINATOR_BUN_FLAGS="--cpu-prof-md --cpu-prof-dir=/tmp/prof" to profile the coordinator
  const flags = (process.env.GOGRID_BENCH_COORDINATOR_BUN_FLAGS ?? "").split(" ").filter(Boolean);
  const args = ["bun", ...flags, join(DIR, "coord-server.ts"), "--heartbeat-secs", String(o.heartbeatSecs ?? 15)];
  if (o.postgres) args.push("--postgres");
  // as deployed: the systemd unit sets NODE_ENV=production, which turns off the codec's validation
  // of the coordinator's own outgoing messages (inbound frames are always validated)
  const child = await JsonChild.start(`coordinator (${o.postgres ? "postgres" : "sqlite"})`, withMaxFiles(args), 120_000, {
    NODE_ENV: "production",
  });
  return {
    child,
    apiUrl: String(child.ready.api_url),
    key: String(child.ready.key),
    store: child.ready.store === "postgres" ? "postgres" : "sqlite",
  };
}

export interface Fleet {
  children: JsonChild[];
  connected: number;
  /** Enrolments started (fewer than asked when the connect time limit ran out). */
  attempted: number;
  /** Attempts that did not end connected (enrolment or handshake refused or failed). */
  failed: number;
  /** Handshakes tried again after the coordinator refused or dropped one (as real workers reconnect). */
  retries: number;
  errors: string[];
  seconds: number;
}

/**
 * Enrols and connects `workers` simulated workers spread over `processes` child processes. With
 * `requireAll`, fewer than `workers` connected is an error (the fleet's processes are closed first).
 */
export async function startFleet(
  c: CoordinatorChild,
  o: { workers: number; processes: number; spec: Omit<FleetSpec, "tokens">; requireAll?: boolean },
): Promise<Fleet> {
  const t0 = performance.now();
  const procs = Math.max(1, Math.min(o.processes, o.workers));
  const children = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      JsonChild.start(`sim fleet ${i + 1}`, withMaxFiles(["bun", join(DIR, "sim-fleet.ts"), c.apiUrl])),
    ),
  );
  const fleet: Fleet = { children, connected: 0, attempted: 0, failed: 0, retries: 0, errors: [], seconds: 0 };
  await Promise.all(
    children.map(async (child, i) => {
      const n = Math.floor(o.workers / procs) + (i < o.workers % procs ? 1 : 0);
      const tokens: string[] = [];
      // tokens are made in batches so one answer line stays small
      for (let left = n; left > 0; left -= 1000) {
        const r = await c.child.request(`tokens ${Math.min(1000, left)}`);
        tokens.push(...(r.tokens as string[]));
      }
      const r = await child.request(`connect ${JSON.stringify({ ...o.spec, tokens })}`, 1_800_000);
      fleet.connected += Number(r.connected);
      fleet.attempted += Number(r.attempted);
      fleet.failed += Number(r.failed);
      fleet.retries += Number(r.retries ?? 0);
      fleet.errors.push(...(r.errors as string[]));
    }),
  );
  fleet.seconds = (performance.now() - t0) / 1000;
  if (o.requireAll && fleet.connected !== o.workers) {
    await closeAll(children);
    throw new Error(`only ${fleet.connected}/${o.workers} workers connected: ${fleet.errors[0]}`);
  }
  return fleet;
}

/** Sums the fleets' counters (jobs answered, chunks and heartbeats sent, acks received, open sockets). */
export async function fleetStats(f: Fleet): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const child of f.children) {
    const r = await child.request("stats");
    for (const [k, v] of Object.entries(r)) if (typeof v === "number") sum[k] = (sum[k] ?? 0) + v;
  }
  return sum;
}

export async function closeAll(children: (JsonChild | null | undefined)[]): Promise<void> {
  await Promise.all(children.map((c) => c?.close()));
}

/** The load clients' results summed (per-job latencies become percentiles), with the coordinator's process figures. */
export interface LoadFigures
  extends Pick<LoadResult, "sent" | "ok" | "wrong" | "errors" | "skipped" | "first_error" | "tokens" | "send_late_p99_ms" | "seconds"> {
  jobs_per_s: number | null;
  tokens_per_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  coordinator: ProcWindow | null;
  /** Coordinator CPU milliseconds per completed job. */
  coordinator_cpu_ms_per_job: number | null;
}

/**
 * Runs the same load from `clients` child processes at once (an open-loop rate is split between
 * them) and measures the coordinator process meanwhile.
 */
export async function runLoad(c: CoordinatorChild, spec: Omit<LoadSpec, "api_url" | "key">, clients: number): Promise<LoadFigures> {
  const per: LoadSpec = {
    ...spec,
    api_url: c.apiUrl,
    key: c.key,
    concurrency: Math.max(1, Math.ceil(spec.concurrency / clients)),
    ...(spec.rate ? { rate: spec.rate / clients } : {}),
  };
  const children = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      JsonChild.start(`load client ${i + 1}`, ["bun", join(DIR, "load-client.ts"), JSON.stringify(per)]),
    ),
  );
  try {
    const watch = watchProcess(c.child.pid);
    const results = (await Promise.all(children.map((ch) => ch.request("go", (spec.seconds + 120) * 1000)))) as unknown as LoadResult[];
    const coordinator = watch?.stop() ?? null;
    const lat = results.flatMap((r) => r.latencies_ms);
    const seconds = Math.max(...results.map((r) => r.seconds));
    const ok = results.reduce((n, r) => n + r.ok, 0);
    const tokens = results.reduce((n, r) => n + r.tokens, 0);
    return {
      sent: results.reduce((n, r) => n + r.sent, 0),
      ok,
      wrong: results.reduce((n, r) => n + r.wrong, 0),
      errors: results.reduce((n, r) => n + r.errors, 0),
      skipped: results.reduce((n, r) => n + r.skipped, 0),
      first_error: results.find((r) => r.first_error)?.first_error ?? null,
      jobs_per_s: round(ok / seconds, 1),
      tokens,
      tokens_per_s: round(tokens / seconds, 0),
      p50_ms: round(percentile(lat, 50), 3),
      p99_ms: round(percentile(lat, 99), 3),
      max_ms: round(percentile(lat, 100), 3),
      send_late_p99_ms: Math.max(...results.map((r) => r.send_late_p99_ms)),
      seconds: round(seconds, 2) as number,
      coordinator: coordinator && {
        ...coordinator,
        cpu_pct: round(coordinator.cpu_pct, 1) as number,
        rss_mb_end: round(coordinator.rss_mb_end, 1) as number,
        rss_mb_max: round(coordinator.rss_mb_max, 1) as number,
        seconds: round(coordinator.seconds, 2) as number,
        cpu_s: round(coordinator.cpu_s, 2) as number,
      },
      coordinator_cpu_ms_per_job: coordinator && ok > 0 ? round((coordinator.cpu_s * 1000) / ok, 3) : null,
    };
  } finally {
    await closeAll(children);
  }
}

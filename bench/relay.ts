// `bun run bench:relay`: tokens/s streamed worker → coordinator → SSE clients (goal ≥ 100,000 tokens/s).
//
// Simulated workers stream each job as --chunks one-token chunks over their real mTLS sockets; SSE
// clients (child processes) keep --streams POST /v1/completions stream:true requests open and count
// the completion text they receive. Last stdout line: one JSON object.
import { parseFlags } from "./flags.ts";
import { finish, machine, progress, table, verdict } from "./report.ts";
import { BENCH_MODEL_ID, closeAll, fleetStats, runLoad, startCoordinatorChild, startFleet } from "./stack.ts";

export const RELAY_GOAL_TOKENS_PER_S = 100_000;

export interface RelayOptions {
  workers: number;
  streams: number;
  chunks: number;
  seconds: number;
  clients: number;
  log: (line: string) => void;
}

export async function benchRelay(o: RelayOptions): Promise<Record<string, unknown>> {
  const c = await startCoordinatorChild({ postgres: false });
  let fleet: Awaited<ReturnType<typeof startFleet>> | null = null;
  try {
    fleet = await startFleet(c, {
      workers: o.workers,
      processes: 1,
      spec: { mode: "stream", chunks: o.chunks, capacity: 256, heartbeat: true },
      requireAll: true,
    });
    const spec = { model: BENCH_MODEL_ID, max_tokens: o.chunks, stream: true, mode: "closed" } as const;
    await runLoad(c, { ...spec, concurrency: 2, seconds: 1 }, 1); // warm-up
    o.log(`${o.streams} SSE streams of ${o.chunks} tokens for ${o.seconds} s`);
    const f = await runLoad(c, { ...spec, concurrency: o.streams, seconds: o.seconds }, o.clients);
    const sent = await fleetStats(fleet);
    return {
      workers: o.workers,
      streams: o.streams,
      tokens_per_job: o.chunks,
      seconds: f.seconds,
      jobs_completed: f.ok,
      jobs_wrong: f.wrong,
      jobs_failed: f.errors,
      first_error: f.first_error,
      tokens_received: f.tokens,
      chunks_sent_by_workers: sent.chunks ?? null,
      tokens_per_s: f.tokens_per_s,
      job_p50_ms: f.p50_ms,
      job_p99_ms: f.p99_ms,
      coordinator_cpu_pct: f.coordinator?.cpu_pct ?? null,
      coordinator_rss_mb: f.coordinator?.rss_mb_max ?? null,
      goal_tokens_per_s: RELAY_GOAL_TOKENS_PER_S,
      goal_met: f.tokens_per_s === null ? null : f.tokens_per_s >= RELAY_GOAL_TOKENS_PER_S && f.errors === 0 && f.wrong === 0,
    };
  } finally {
    await closeAll([...(fleet?.children ?? []), c.child]);
  }
}

export function relayTable(r: Record<string, unknown>): string {
  return table(
    [
      "streams",
      "tokens/job",
      "jobs done",
      "failed",
      "tokens/s",
      "job p50 ms",
      "job p99 ms",
      "coord CPU %",
      "RSS MB",
      `goal ≥ ${RELAY_GOAL_TOKENS_PER_S}`,
    ],
    [
      [
        r.streams,
        r.tokens_per_job,
        r.jobs_completed,
        Number(r.jobs_failed) + Number(r.jobs_wrong),
        r.tokens_per_s,
        r.job_p50_ms,
        r.job_p99_ms,
        r.coordinator_cpu_pct,
        r.coordinator_rss_mb,
        verdict(r.goal_met as boolean | null),
      ],
    ],
  );
}

if (import.meta.main) {
  const FLAGS = {
    workers: { type: "string", default: "4", description: "simulated workers (each streams up to 256 jobs at once)" },
    streams: { type: "string", default: "32", description: "SSE requests open at once" },
    chunks: { type: "string", default: "500", description: "one-token chunks per job" },
    seconds: { type: "string", default: "10", description: "seconds measured" },
    clients: { type: "string", default: "2", description: "SSE client processes" },
    quick: { type: "boolean", default: false, description: "a short smoke run (3 s)" },
  } as const;
  const f = parseFlags("bench:relay", FLAGS, Bun.argv.slice(2));
  const r = await benchRelay({
    workers: f.num("workers", 1),
    streams: f.num("streams", 1),
    chunks: f.num("chunks", 1),
    seconds: f.bool("quick") ? 3 : f.num("seconds", 1, true),
    clients: f.num("clients", 1),
    log: progress("relay"),
  });
  const head = `bench:relay — ${machine()}; tokens counted by the SSE clients`;
  finish(`${head}\n\n${relayTable(r)}\n`, r);
}

// Bench child: many simulated workers (real enrolment, real mTLS sockets, heartbeats) that answer jobs instantly or stream chunks.
//
// usage: bun bench/sim-fleet.ts <api url>
// Prints {"ready":true}, then answers stdin lines:
//   connect <json FleetSpec> → enrols and connects one worker per token: {"connected","failed","errors","seconds"}
//   stats                    → {"workers","open","jobs","chunks","heartbeats","acks"}
//   quit                     → closes every socket and exits

import { enrol, SimWorker } from "../coordinator/test/sim-worker.ts";
import { encode, type JobAssignmentMessage, type WorkerToCoordinator } from "../protocol/src/index.ts";
import { serveCommands } from "./child.ts";

export interface FleetSpec {
  tokens: string[];
  /** instant: one chunk and the result at once; stream: `chunks` one-character chunks, then the result. */
  mode: "instant" | "stream";
  chunks?: number;
  /** max_concurrent_jobs each worker registers. */
  capacity?: number;
  /** Send heartbeats at the interval the coordinator's welcome asks for. */
  heartbeat?: boolean;
  /** Enrolments and handshakes in flight at once. */
  parallel?: number;
  /** Start no further enrolment after this many seconds (the rest count as not connected). */
  limitSeconds?: number;
}

const apiUrl = Bun.argv[2];
if (!apiUrl) {
  process.stderr.write("usage: bun bench/sim-fleet.ts <api url>\n");
  process.exit(2);
}

const workers: SimWorker[] = [];
const timers: Timer[] = [];
const counts = { jobs: 0, chunks: 0, heartbeats: 0, acks: 0 };
const started = Date.now();

/** The text a bench worker answers: `n` times "a" (one character per chunk, one token each). */
const benchText = (n: number) => "a".repeat(n);

function send(w: SimWorker, m: WorkerToCoordinator): void {
  w.ws?.send(encode(m, { validate: false }));
}

function result(job: JobAssignmentMessage, text: string): WorkerToCoordinator {
  return {
    type: "job_result",
    job_id: job.job_id,
    fence: job.fence,
    status: "completed",
    finish_reason: "length",
    text,
    usage: { prompt_tokens: 1, completion_tokens: text.length },
    timings: { ttft_ms: 0, total_ms: 0, tokens_per_sec: 0 },
  };
}

async function answer(w: SimWorker, job: JobAssignmentMessage, spec: FleetSpec): Promise<void> {
  counts.jobs++;
  send(w, { type: "job_accept", job_id: job.job_id, fence: job.fence });
  const n = spec.mode === "instant" ? 1 : (spec.chunks ?? 100);
  for (let seq = 0; seq < n; seq++) {
    send(w, { type: "job_chunk", job_id: job.job_id, fence: job.fence, seq, text: "a" });
    counts.chunks++;
    // a real worker sends tokens as it makes them: let the socket drain now and then
    if (spec.mode === "stream" && seq % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  send(w, result(job, benchText(n)));
}

/** Takes job assignments and heartbeat acks before SimWorker's own handler (which would keep every frame). */
function takeOver(w: SimWorker, spec: FleetSpec): void {
  const ws = w.ws as WebSocket;
  const original = ws.onmessage;
  ws.onmessage = (ev: MessageEvent) => {
    const frame = String(ev.data);
    if (frame.includes('"job_assignment"')) {
      void answer(w, JSON.parse(frame) as JobAssignmentMessage, spec);
    } else if (frame.includes('"heartbeat_ack"')) {
      counts.acks++;
    } else {
      original?.call(ws, ev);
    }
  };
  const welcome = w.received.find((m) => m.type === "welcome");
  if (spec.heartbeat && welcome?.type === "welcome") {
    const every = welcome.heartbeat_interval * 1000;
    const beat = () => {
      counts.heartbeats++;
      send(w, {
        type: "heartbeat",
        ts: Date.now(),
        status: "idle",
        stats: {
          cpu_percent: 0,
          memory_percent: 1,
          gpu_percent: 0,
          vram_used_mb: 0,
          jobs_running: 0,
          jobs_completed: counts.jobs,
          tokens_generated: 0,
          throttled_requests: 0,
          uptime_secs: Math.round((Date.now() - started) / 1000),
        },
      } as WorkerToCoordinator);
    };
    // a random phase, so the fleet's heartbeats spread over the interval
    const first = setTimeout(() => {
      beat();
      timers.push(setInterval(beat, every));
    }, Math.random() * every);
    timers.push(first);
  }
}

async function connectAll(spec: FleetSpec): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  let connected = 0;
  let attempted = 0;
  let retries = 0;
  const errors: string[] = [];
  let next = 0;
  const one = async () => {
    const stopAt = t0 + (spec.limitSeconds ?? Number.POSITIVE_INFINITY) * 1000;
    while (next < spec.tokens.length && performance.now() < stopAt) {
      const token = spec.tokens[next++] as string;
      attempted++;
      try {
        const id = await enrol(apiUrl as string, token, "bench");
        // a socket refused or dropped during a connect storm is tried again after a pause, twice,
        // as a real worker's reconnect does (worker/src/connection.ts)
        let w = new SimWorker(id, { kind: "hang" }, { capacity: spec.capacity ?? 1 });
        for (let attempt = 1; !(await w.connect()); attempt++) {
          const closed = await Promise.race([w.closed, Bun.sleep(100).then(() => null)]);
          const why = closed ? `close code ${closed.code}${closed.reason ? `: ${closed.reason}` : ""}` : "no close frame";
          if (attempt === 3) throw new Error(`the coordinator refused the handshake 3 times (last: ${why})`);
          retries++;
          await Bun.sleep(1000 * attempt);
          w = new SimWorker(id, { kind: "hang" }, { capacity: spec.capacity ?? 1 });
        }
        takeOver(w, spec);
        workers.push(w);
        connected++;
      } catch (e) {
        if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, spec.parallel ?? 16) }, one));
  return { connected, attempted, failed: attempted - connected, retries, errors, seconds: (performance.now() - t0) / 1000 };
}

process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
await serveCommands(async (cmd, args) => {
  if (cmd === "connect") return connectAll(JSON.parse(args.join(" ")) as FleetSpec);
  if (cmd === "stats") {
    const open = workers.filter((w) => w.ws?.readyState === WebSocket.OPEN).length;
    return { workers: workers.length, open, ...counts };
  }
  if (cmd === "quit") return "quit";
  throw new Error(`unknown command "${cmd}"`);
});
for (const t of timers) clearInterval(t);
for (const w of workers) w.close();
await Bun.sleep(100);
process.exit(0);

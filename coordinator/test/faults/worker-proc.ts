// A simulated worker as its own process (for kill -9, SIGSTOP, coordinator restarts): enrols,
// reconnects forever, answers every job, and reports what happens as JSON lines on stdout.
import { decodeCoordinatorMessage } from "@gogrid/protocol";
import { enrol, SimWorker } from "../sim-worker.ts";

/** argv[2] of the child, as JSON. */
export interface WorkerProcConfig {
  apiUrl: string;
  /** An unused enrolment token. */
  token: string;
  /** Connect here instead of the enrolment's worker URL (a proxy in between). */
  workerUrl?: string;
  capacity: number;
  chunkDelayMs: number;
  heartbeatMs: number;
  /** Delay between reconnection attempts. */
  reconnectMs: number;
}

/** One line the child writes on stdout. */
export type WorkerProcEvent =
  | { ev: "enrolled"; node: string; t: number }
  | { ev: "welcome"; t: number }
  | { ev: "closed"; code: number; t: number }
  | { ev: "job"; job: string; fence: string; t: number }
  | { ev: "sent"; job: string; fence: string; t: number }
  | { ev: "cancel"; job: string; fence: string; reason: string; t: number };

/** The simulated model: what every honest worker answers for a prompt. */
export const answer = (prompt: string) => `${prompt.split("").reverse().join("")}|${prompt.length}`;

function emit(e: WorkerProcEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

async function main(config: WorkerProcConfig): Promise<void> {
  let id: Awaited<ReturnType<typeof enrol>> | null = null;
  while (!id) {
    try {
      id = await enrol(config.apiUrl, config.token, `fault-${process.pid}`);
    } catch (e) {
      process.stderr.write(`worker-proc: enrolment: ${(e as Error).message}\n`);
      await Bun.sleep(config.reconnectMs);
    }
  }
  emit({ ev: "enrolled", node: id.nodeId, t: Date.now() });
  const url = config.workerUrl ?? id.workerUrl;
  for (;;) {
    const w = new SimWorker(
      id,
      { kind: "answer", text: (j) => answer(j.prompt ?? ""), chunkDelayMs: config.chunkDelayMs },
      { capacity: config.capacity },
    );
    const welcomed = w.connect(url);
    const ws = w.ws as WebSocket;
    const inner = ws.onmessage;
    // observe what the coordinator sends before the simulated worker handles it
    ws.onmessage = (ev: MessageEvent) => {
      const d = decodeCoordinatorMessage(String(ev.data));
      if (d.ok && d.message.type === "job_assignment") emit({ ev: "job", job: d.message.job_id, fence: d.message.fence, t: Date.now() });
      if (d.ok && d.message.type === "job_cancel")
        emit({ ev: "cancel", job: d.message.job_id, fence: d.message.fence, reason: d.message.reason, t: Date.now() });
      inner?.call(ws, ev);
    };
    const send = w.send.bind(w);
    w.send = (m) => {
      send(m);
      if (m.type === "job_result") emit({ ev: "sent", job: m.job_id, fence: m.fence, t: Date.now() });
    };
    if (await welcomed) {
      emit({ ev: "welcome", t: Date.now() });
      const beat = setInterval(() => {
        send({
          type: "heartbeat",
          status: "idle",
          stats: {
            cpu_percent: 1,
            memory_percent: 1,
            gpu_percent: 0,
            vram_used_mb: 0,
            jobs_running: 0,
            jobs_completed: w.assignments.length,
            tokens_generated: 0,
            throttled_requests: 0,
            uptime_secs: Math.round(process.uptime()),
          },
        });
      }, config.heartbeatMs);
      const closed = await w.closed;
      clearInterval(beat);
      emit({ ev: "closed", code: closed.code, t: Date.now() });
    }
    await Bun.sleep(config.reconnectMs);
  }
}

if (import.meta.main) {
  process.on("unhandledRejection", (e) => process.stderr.write(`worker-proc: ${(e as Error)?.message ?? e}\n`));
  process.on("uncaughtException", (e) => process.stderr.write(`worker-proc: ${e.message}\n`));
  const arg = process.argv[2];
  if (!arg) {
    process.stderr.write("usage: bun coordinator/test/faults/worker-proc.ts '<WorkerProcConfig JSON>'\n");
    process.exit(2);
  }
  await main(JSON.parse(arg) as WorkerProcConfig);
}

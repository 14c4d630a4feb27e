// Child processes the fault parts kill, stop and restart: simulated workers and a coordinator.
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { WorkerProcConfig, WorkerProcEvent } from "../../coordinator/test/faults/worker-proc.ts";

const ROOT = join(import.meta.dir, "..", "..");
const WORKER_ENTRY = join(ROOT, "coordinator", "test", "faults", "worker-proc.ts");
const COORDINATOR_ENTRY = join(ROOT, "coordinator", "src", "main.ts");

/** Reads a child's stdout line by line. */
async function lines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  }
}

/** A simulated worker process (coordinator/test/faults/worker-proc.ts) and what it reported. */
export class WorkerProc {
  node = "";
  readonly events: WorkerProcEvent[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly proc: Subprocess<"ignore", "pipe", "inherit" | "ignore">) {
    void lines(proc.stdout, (line) => {
      let e: WorkerProcEvent;
      try {
        e = JSON.parse(line) as WorkerProcEvent;
      } catch {
        return;
      }
      if (e.ev === "enrolled") this.node = e.node;
      this.events.push(e);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static spawn(config: WorkerProcConfig, verbose = false): WorkerProc {
    const proc = Bun.spawn(["bun", WORKER_ENTRY, JSON.stringify(config)], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: verbose ? "inherit" : "ignore",
    });
    return new WorkerProc(proc);
  }

  /** Resolves with the first event after index `from` that matches, or throws after `ms`. */
  async waitFor(match: (e: WorkerProcEvent) => boolean, ms: number, from = 0, what = "event"): Promise<WorkerProcEvent> {
    const end = Date.now() + ms;
    let i = from;
    for (;;) {
      for (; i < this.events.length; i++) if (match(this.events[i] as WorkerProcEvent)) return this.events[i] as WorkerProcEvent;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`worker ${this.node || this.proc.pid}: no ${what} within ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Attempts assigned to this worker whose result it has not sent yet: fence → job id. */
  holding(): Map<string, string> {
    const held = new Map<string, string>();
    for (const e of this.events) {
      if (e.ev === "job") held.set(e.fence, e.job);
      else if (e.ev === "sent") held.delete(e.fence);
      else if (e.ev === "closed") held.clear();
    }
    return held;
  }

  /** Fences of every attempt this worker was handed. */
  fences(): Set<string> {
    return new Set(this.events.flatMap((e) => (e.ev === "job" ? [e.fence] : [])));
  }

  signal(sig: "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGTERM"): void {
    this.proc.kill(sig);
  }

  async stop(): Promise<void> {
    this.proc.kill("SIGCONT");
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
}

/** A free TCP port on loopback (closed again before it is returned). */
export function freePort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/** gogrid-coordinator as a child process on fixed ports, data dir and database. */
export class CoordinatorProc {
  proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  readonly apiUrl: string;
  log = "";

  constructor(
    readonly options: { dataDir: string; databaseUrl: string; apiPort: number; workerPort: number; leaseSecs: number; extra?: string[] },
  ) {
    this.apiUrl = `http://127.0.0.1:${options.apiPort}`;
  }

  /** Starts it and waits for the line that says it is listening; returns seconds taken. */
  async start(timeoutMs = 30_000): Promise<number> {
    const o = this.options;
    const t0 = performance.now();
    const proc = Bun.spawn(
      [
        "bun",
        COORDINATOR_ENTRY,
        "--data-dir",
        o.dataDir,
        "--database-url",
        o.databaseUrl,
        "--api-host",
        "127.0.0.1",
        "--api-port",
        String(o.apiPort),
        "--worker-host",
        "127.0.0.1",
        "--worker-port",
        String(o.workerPort),
        "--jobs-lease-secs",
        String(o.leaseSecs),
        "--jobs-retry-base-ms",
        "20",
        "--jobs-max-attempts",
        "20",
        "--log-level",
        "warn",
        ...(o.extra ?? []),
      ],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    this.proc = proc;
    void lines(proc.stderr, (line) => {
      this.log += `${line}\n`;
    });
    let ready = false;
    void lines(proc.stdout, (line) => {
      if (line.startsWith("GOGRID_API_URL=")) ready = true;
    });
    const end = Date.now() + timeoutMs;
    while (!ready) {
      if (proc.exitCode !== null) throw new Error(`the coordinator exited (${proc.exitCode}) while starting:\n${this.log.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`the coordinator did not start within ${timeoutMs} ms:\n${this.log.slice(-2000)}`);
      await Bun.sleep(20);
    }
    return (performance.now() - t0) / 1000;
  }

  /** Whether the process is still running (it may have crashed under a fault). */
  alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    if (!this.proc) return;
    const proc = this.proc;
    proc.kill(signal);
    // a clean stop gets 10 s, then it is killed
    const t = signal === "SIGTERM" ? setTimeout(() => proc.kill("SIGKILL"), 10_000) : null;
    await proc.exited;
    if (t) clearTimeout(t);
    this.proc = null;
  }
}

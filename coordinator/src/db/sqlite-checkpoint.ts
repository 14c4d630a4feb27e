// Checkpoints of the coordinator's SQLite WAL in a background thread, so their fsync rarely stalls the event loop.
//
// SQLite's own auto-checkpoint runs inside the commit that crosses 1,000 WAL pages: it copies the
// pages into the database file and fsyncs both, on the thread that committed. A job writes ~8–24
// WAL pages (more when fewer jobs share a commit), so at 1,000 jobs/s that was several stalls of
// 2–13 ms every second on this VM's disk (issue 9: p99 ≤ 10 ms per job). With the checkpointer a
// worker thread with its own connection runs PASSIVE checkpoints (they never block the writer)
// every `intervalMs`, until the WAL is copied. The coordinator's connection keeps an
// auto-checkpoint, at 10,000 pages (~40 MB): SQLite restarts the WAL from its beginning only
// after a checkpoint that finds nothing left to copy, which under steady writes is one of the
// writer's own; it then copies only what the thread has not. If the thread cannot start or stops
// working, the default of 1,000 pages is switched back on.
import type { Database } from "bun:sqlite";
import { describeCause } from "./errors.ts";

type FromWorker =
  | { type: "ready" }
  | { type: "stopped" }
  | { type: "checkpointed"; log: number; checkpointed: number }
  | { type: "failed"; message: string };

export interface CheckpointerOptions {
  /** How often the thread checkpoints (default 50 ms; each time until the WAL is copied). */
  intervalMs?: number;
  /** Failures in a row after which the thread is given up (default 3). */
  maxFailures?: number;
  log?: (level: "warn" | "error", message: string) => void;
}

/** SQLite's default: auto-checkpoint when the WAL passes 1,000 pages. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** With the thread copying pages all along: the writer's own checkpoint (and WAL restart) this often. */
export const BACKGROUND_AUTO_CHECKPOINT_PAGES = 10_000;

export class Checkpointer {
  /** Checkpoints the thread has run. */
  checkpoints = 0;
  /** WAL frames at the last checkpoint, and how many of them were copied. */
  last = { log: 0, checkpointed: 0 };
  #failures = 0;
  #running = true;
  #stopped: (() => void) | null = null;

  private constructor(
    private readonly client: Database,
    private readonly worker: Worker,
    private readonly options: CheckpointerOptions,
  ) {}

  /** Starts the thread for the WAL database at `path`; null (auto-checkpoint kept) when it cannot start. */
  static async start(client: Database, path: string, options: CheckpointerOptions = {}): Promise<Checkpointer | null> {
    const notStarted = (why: string) => {
      options.log?.("warn", `SQLite checkpoints stay on the main thread: the checkpoint thread did not start (${why})`);
      return null;
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL("./sqlite-checkpoint-worker.ts", import.meta.url).href);
    } catch (error) {
      return notStarted(describeCause(error));
    }
    const ready = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve("no answer in 10 s"), 10_000);
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        clearTimeout(timer);
        resolve(e.data.type === "ready" ? null : e.data.type === "failed" ? e.data.message : `unexpected ${e.data.type}`);
      };
      worker.onerror = (e) => {
        clearTimeout(timer);
        resolve(e.message);
      };
      worker.postMessage({ path, intervalMs: options.intervalMs ?? 50 });
    });
    if (ready !== null) {
      worker.terminate();
      return notStarted(ready);
    }
    const c = new Checkpointer(client, worker, options);
    client.run(`PRAGMA wal_autocheckpoint = ${BACKGROUND_AUTO_CHECKPOINT_PAGES}`);
    worker.onmessage = (e: MessageEvent<FromWorker>) => c.#onMessage(e.data);
    worker.onerror = (e) => c.#giveUp(`the checkpoint thread failed: ${e.message}`);
    worker.unref();
    return c;
  }

  /** Whether checkpoints still run in the background (false once given up: auto-checkpoint is back on). */
  get running(): boolean {
    return this.#running;
  }

  #onMessage(m: FromWorker): void {
    if (m.type === "checkpointed") {
      this.checkpoints++;
      this.last = { log: m.log, checkpointed: m.checkpointed };
      this.#failures = 0;
    } else if (m.type === "failed") {
      this.#failures++;
      this.options.log?.("warn", `SQLite background checkpoint failed: ${m.message}`);
      if (this.#failures >= (this.options.maxFailures ?? 3)) this.#giveUp(`${this.#failures} background checkpoints failed in a row`);
    } else if (m.type === "stopped") {
      this.#stopped?.();
    }
  }

  #giveUp(why: string): void {
    if (!this.#running) return;
    this.#running = false;
    this.worker.terminate();
    this.#restoreAuto();
    this.options.log?.("error", `${why}; SQLite checkpoints are back on the main thread`);
  }

  #restoreAuto(): void {
    try {
      this.client.run(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // the connection is closed already: nothing to restore
    }
  }

  /** A last checkpoint, then the thread ends; auto-checkpoint is switched back on. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      this.#stopped = () => {
        clearTimeout(timer);
        resolve();
      };
      this.worker.postMessage({ type: "stop" });
    });
    this.worker.terminate();
    this.#restoreAuto();
  }
}

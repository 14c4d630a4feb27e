// Checkpoints of the coordinator's SQLite WAL in a background thread, so their fsync rarely stalls the event loop.
//
// SQLite's own auto-checkpoint runs inside the commit that crosses 1,000 WAL pages: it copies the
// pages into the database file and fsyncs both, on the thread that committed. A job writes ~20
// WAL pages, so at 1,000 jobs/s that was several stalls of 2–13 ms every second on this VM's disk
// (issue 9: p99 ≤ 10 ms per job). With the checkpointer a worker thread with its own connection
// runs PASSIVE checkpoints (they never block the writer) every `intervalMs`, until the WAL is
// copied. SQLite starts the WAL again from its beginning only in a transaction that begins with
// all of it copied, which under steady writes never happens by itself: so once the WAL passes
// `restartAtFrames`, the writes (the repository's group commit) are held while the thread copies
// the rest (a few hundred pages and two fsyncs: 6–11 ms on this VM, every ~2 s at 1,000 jobs/s,
// while the event loop goes on serving), and the next transaction restarts it. The coordinator's
// own auto-checkpoint stays as a backstop at 100,000 pages (another process reading the file can
// keep the WAL from restarting). Before the hold that auto-checkpoint (then at 10,000 pages) ran
// every ~0.5 s at 1,000 jobs/s and held the event loop itself 4–9 ms each time, ~350 ms in 30 s
// against ~110 ms of held writes now (issue 9). If the thread cannot start or stops working, the
// default of 1,000 pages is switched back on.
import type { Database } from "bun:sqlite";
import { describeCause } from "./errors.ts";

type FromWorker =
  | { type: "ready" }
  | { type: "stopped" }
  | { type: "checkpointed" | "drained"; log: number; checkpointed: number }
  | { type: "failed"; message: string };

export interface CheckpointerOptions {
  /** How often the thread checkpoints (default 50 ms; each time until the WAL is copied). */
  intervalMs?: number;
  /** Failures in a row after which the thread is given up (default 3). */
  maxFailures?: number;
  /** The connection's writes, held while the thread copies the rest of the WAL (none: the WAL restarts by the backstop only). */
  writes?: WriteGate;
  /** WAL frames past which writes are held for a restart (default 40,000, ~160 MB: at 1,000 jobs/s every ~2 s). */
  restartAtFrames?: number;
  log?: (level: "warn" | "error", message: string) => void;
}

/** SQLite's default: auto-checkpoint when the WAL passes 1,000 pages. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** With the thread copying pages all along: the writer's own checkpoint, a backstop (see the top of this file). */
export const BACKGROUND_AUTO_CHECKPOINT_PAGES = 100_000;
/**
 * A hold costs two fsyncs whatever the WAL's length, so it is made seldom: a longer WAL costs disk
 * space only, as readers skip the frames already copied.
 */
const RESTART_AT_FRAMES = 40_000;
/** The longest writes are held for a restart, whatever the thread does meanwhile. */
const MAX_HOLD_MS = 200;

/** What holds and releases the writes of the connection being checkpointed (GroupCommit). */
export interface WriteGate {
  /** Holds writes; resolves once no transaction is open. */
  pause(): Promise<void>;
  resume(): void;
}

export class Checkpointer {
  /** Checkpoints the thread has run. */
  checkpoints = 0;
  /** WAL frames at the last checkpoint, and how many of them were copied. */
  last = { log: 0, checkpointed: 0 };
  /** Times the writes were held for a restart, and how long in all (ms). */
  holds = { count: 0, ms: 0 };
  #holding = false;
  /** WAL frames past which writes are held for a restart (options.restartAtFrames). */
  readonly #restartAt: number;
  /** WAL frames at which the next hold is tried. */
  #holdAt: number;
  #drained: (() => void) | null = null;
  #failures = 0;
  #running = true;
  #stopped: (() => void) | null = null;

  private constructor(
    private readonly client: Database,
    private readonly worker: Worker,
    private readonly options: CheckpointerOptions,
  ) {
    this.#restartAt = options.restartAtFrames ?? RESTART_AT_FRAMES;
    this.#holdAt = this.#restartAt;
  }

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
    if (m.type === "checkpointed" || m.type === "drained") {
      this.checkpoints++;
      this.last = { log: m.log, checkpointed: m.checkpointed };
      this.#failures = 0;
      if (m.type === "drained") this.#drained?.();
      else if (m.log < this.#restartAt) this.#holdAt = this.#restartAt;
      else if (m.log >= this.#holdAt) {
        // should the WAL not start again (another process reading it), the next try waits for a quarter more
        this.#holdAt = m.log + this.#restartAt / 4;
        void this.#restart();
      }
    } else if (m.type === "failed") {
      this.#failures++;
      this.options.log?.("warn", `SQLite background checkpoint failed: ${m.message}`);
      if (this.#failures >= (this.options.maxFailures ?? 3)) this.#giveUp(`${this.#failures} background checkpoints failed in a row`);
    } else if (m.type === "stopped") {
      this.#stopped?.();
    }
  }

  /**
   * Holds the writes, has the thread copy what is left and lets the writes go: the transaction
   * that comes next finds the WAL copied and starts it again from the beginning.
   */
  async #restart(): Promise<void> {
    const gate = this.options.writes;
    if (!gate || this.#holding || !this.#running) return;
    this.#holding = true;
    const t0 = performance.now();
    try {
      await gate.pause();
      if (!this.#running) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, MAX_HOLD_MS);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
        this.worker.postMessage({ type: "drain" });
      });
    } finally {
      this.#drained = null;
      gate.resume();
      this.#holding = false;
      this.holds.count++;
      this.holds.ms += performance.now() - t0;
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

// Heartbeat times kept in memory and written for all workers at once, every `flushMs`.
//
// A heartbeat that changes the worker's status is written at once (the scheduler, the dashboard
// and admission read the status); one that only says "still here" waits for the next flush, which
// writes every such worker of a status in one statement. The time written is the earliest beat of
// the batch, so the database never says a worker was heard later than it was, and it lags by at
// most `flushMs` (plus a write): far below the offline timeout, so a silent worker still goes
// offline on time and a live one never does.
import type { Repository, WorkerRow } from "../db/repository.ts";

type Status = WorkerRow["status"];

export class HeartbeatBook {
  /** Beats not yet written: node → status and time of its earliest unwritten beat. */
  private pending = new Map<string, { status: Status; at: number }>();
  /** The status last written (or being written) per node. */
  private readonly written = new Map<string, Status>();
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: ReturnType<typeof setInterval> | null;

  constructor(
    private readonly repo: Repository,
    private readonly onError: (e: Error) => void,
    flushMs = 1000,
  ) {
    this.timer = flushMs > 0 ? setInterval(() => void this.flush(), flushMs) : null;
  }

  /** The node registered with `status` (written by the caller): later beats compare with it. */
  registered(nodeId: string, status: Status): void {
    this.pending.delete(nodeId);
    this.written.set(nodeId, status);
  }

  /**
   * A heartbeat: written now when the status changed (the returned promise settles once it is),
   * otherwise with the next flush (undefined: nothing to wait for, the common case, kept free of
   * promises because 10,000 workers send hundreds per second).
   */
  beat(nodeId: string, status: Status, at: number): Promise<void> | undefined {
    if (this.written.get(nodeId) === status) {
      if (!this.pending.has(nodeId)) this.pending.set(nodeId, { status, at });
      return undefined;
    }
    this.pending.delete(nodeId);
    this.written.set(nodeId, status);
    return this.writeStatus(nodeId, status, at);
  }

  private async writeStatus(nodeId: string, status: Status, at: number): Promise<void> {
    await this.flushing; // a batch in flight must not land after (and undo) this newer status
    await this.repo.updateWorker(nodeId, { status, lastHeartbeatAt: at });
  }

  /** The node's socket closed: its unwritten beat is dropped; resolves once no batch can write it again. */
  async forget(nodeId: string): Promise<void> {
    this.pending.delete(nodeId);
    this.written.delete(nodeId);
    await this.flushing;
  }

  /** Writes every pending beat: one statement per status. */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const run = this.flushing.then(async () => {
      if (batch.size === 0) return;
      const groups = new Map<Status, { ids: string[]; at: number }>();
      for (const [nodeId, b] of batch) {
        const g = groups.get(b.status);
        if (g) {
          g.ids.push(nodeId);
          g.at = Math.min(g.at, b.at);
        } else groups.set(b.status, { ids: [nodeId], at: b.at });
      }
      for (const [status, g] of groups) {
        try {
          await this.repo.touchWorkers(g.ids, status, g.at);
        } catch (e) {
          this.onError(e as Error); // the next beat of each of these workers tries again
        }
      }
    });
    this.flushing = run;
    return run;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Stops the timer after writing what is pending. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}

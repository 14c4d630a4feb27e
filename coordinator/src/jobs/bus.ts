// Events between coordinator instances: in-process for SQLite, LISTEN/NOTIFY for Postgres.
import type { JobRow } from "../db/repository.ts";
import type { JobEvent } from "./types.ts";

export type BusEvent =
  /** A job became available: every instance's scheduler looks for a worker. */
  | { kind: "job_available" }
  /** Output or a new attempt of a job, for the instance whose client waits on it. */
  | { kind: "job_event"; jobId: string; event: JobEvent }
  /**
   * The job reached a final state. `job` is its final row when the publisher has it, heard by
   * this instance only; other instances (and listeners without it) read the row from the database.
   */
  | { kind: "job_finished"; jobId: string; job?: JobRow }
  /** Stop this attempt on the worker that runs it (wherever its socket is). */
  | { kind: "job_cancel"; jobId: string; workerId: string; fence: string; reason: string }
  /** The node's certificates were revoked: close its live sockets. */
  | { kind: "worker_revoked"; nodeId: string }
  /** Push a command or config change to one node (nodeId) or to every node (null). */
  | { kind: "worker_push"; nodeId: string | null; message: WorkerPush };

/** What the operator can push to workers. */
export type WorkerPush =
  | { type: "command"; action: "pause" | "resume" | "restart"; reason?: string; duration_secs?: number }
  | {
      type: "config_update";
      config: Record<string, unknown>;
      heartbeat_interval?: number;
      model_update?: { id: string; url: string; sha256: string; size: number };
    };

export type BusListener = (event: BusEvent) => void;

export interface PublishOptions {
  /**
   * Only this instance's listeners need it (a chunk of a job whose client waits here): with
   * Postgres no NOTIFY is sent, which the other instances would only have parsed and dropped.
   */
  localOnly?: boolean;
}

export interface Bus {
  publish(event: BusEvent, options?: PublishOptions): Promise<void>;
  subscribe(listener: BusListener): () => void;
  close(): Promise<void>;
}

/** One process: events go straight to the listeners (after the current task). */
export class LocalBus implements Bus {
  private readonly listeners = new Set<BusListener>();

  async publish(event: BusEvent): Promise<void> {
    queueMicrotask(() => {
      for (const l of this.listeners) l(event);
    });
  }

  subscribe(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** The slice of postgres.js the bus needs (so tests can pass a real `postgres()` client). */
export interface PgNotifier {
  listen(channel: string, onNotify: (payload: string) => void): Promise<{ unlisten(): Promise<void> }>;
  notify(channel: string, payload: string): Promise<unknown>;
}

/** NOTIFY payloads are limited to 8000 bytes; chunk texts are split before they get here. */
const MAX_PAYLOAD = 7900;

interface Batch {
  events: string[];
  bytes: number;
  sent: PromiseWithResolvers<void>;
}

/**
 * Several instances on one Postgres. This instance's listeners hear its own events in-process, at
 * once (as LocalBus); the other instances hear them by NOTIFY. Events published while a NOTIFY is
 * on its way go together in the next one (`{"o": origin, "e": [event, …]}`, under the payload
 * limit), sent one after another on one path so they arrive in order; an instance ignores its own
 * payloads. A lone event in the old form (a bare event object, from an instance not yet upgraded)
 * is still heard.
 */
export class PgBus implements Bus {
  private readonly listeners = new Set<BusListener>();
  private subscription: { unlisten(): Promise<void> } | null = null;
  private readonly origin = crypto.randomUUID();
  private readonly batches: Batch[] = [];
  private draining = false;

  private constructor(
    private readonly sql: PgNotifier,
    private readonly channel: string,
  ) {}

  static async open(sql: PgNotifier, channel = "gogrid_events"): Promise<PgBus> {
    const bus = new PgBus(sql, channel);
    bus.subscription = await sql.listen(channel, (payload) => bus.dispatch(payload));
    return bus;
  }

  private dispatch(payload: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    const batch = parsed as { o?: unknown; e?: unknown };
    if (typeof batch.o === "string" && Array.isArray(batch.e)) {
      if (batch.o === this.origin) return; // ours: heard in-process already
      for (const event of batch.e as BusEvent[]) this.deliver(event);
    } else this.deliver(parsed as BusEvent);
  }

  private deliver(event: BusEvent): void {
    for (const l of this.listeners) l(event);
  }

  /** Resolves once the other instances were sent the event (rejects when that NOTIFY failed). */
  async publish(event: BusEvent, options: PublishOptions = {}): Promise<void> {
    if (options.localOnly) {
      queueMicrotask(() => this.deliver(event));
      return;
    }
    const json = JSON.stringify(event.kind === "job_finished" ? { kind: event.kind, jobId: event.jobId } : event);
    const bytes = Buffer.byteLength(json);
    if (bytes > MAX_PAYLOAD) throw new Error(`bus event too large for NOTIFY (${bytes} bytes)`);
    queueMicrotask(() => this.deliver(event));
    let last = this.batches.at(-1);
    if (!last || last.bytes + bytes + 1 > MAX_PAYLOAD) {
      last = { events: [], bytes: 0, sent: Promise.withResolvers<void>() };
      last.sent.promise.catch(() => {}); // publishers that do not wait are not told; those that do still are
      this.batches.push(last);
    }
    last.events.push(json);
    last.bytes += bytes + 1;
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain()); // what the current task publishes goes in one payload
    }
    return last.sent.promise;
  }

  private async drain(): Promise<void> {
    for (let b = this.batches.shift(); b; b = this.batches.shift()) {
      try {
        await this.sql.notify(this.channel, `{"o":${JSON.stringify(this.origin)},"e":[${b.events.join(",")}]}`);
        b.sent.resolve();
      } catch (e) {
        b.sent.reject(e);
      }
    }
    this.draining = false;
  }

  subscribe(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.subscription?.unlisten();
    this.subscription = null;
  }
}

/** Splits a text so each piece's JSON stays well under the NOTIFY limit. */
export function splitForBus(text: string, maxChars = 1500): string[] {
  if (text.length <= maxChars) return [text];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += maxChars) out.push(text.slice(i, i + maxChars));
  return out;
}

// One client's view of a job: ordered text deltas across retries, then the outcome.
//
// Chunks may arrive out of order (NOTIFY from several connections) or not at all (a dropped
// notification); the final text in the database settles it. A retried attempt starts again from
// the beginning with the same seed, so what was already sent is skipped; if the new attempt
// writes something different, the stream cannot take back what the client has, and says so.
import type { JobEvent, JobOutcome } from "./types.ts";

export class StreamDivergedError extends Error {
  readonly code = "stream_diverged";
  constructor() {
    super("the job was retried on another worker, which produced different text than the one already streamed");
    this.name = "StreamDivergedError";
  }
}

export class JobWatch {
  private attempt = 0;
  private pending = new Map<number, string>();
  private nextSeq = 0;
  private assembled = "";
  private delivered = "";
  /** assembled[0, verified) is known to equal delivered[0, verified): each chunk is compared once. */
  private verified = 0;
  private queue: string[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private diverged = false;
  readonly result: Promise<JobOutcome>;
  private resolve!: (o: JobOutcome) => void;

  constructor(readonly jobId: string) {
    this.result = new Promise((r) => {
      this.resolve = r;
    });
  }

  onEvent(e: JobEvent): void {
    if (this.ended) return;
    if (e.attempt > this.attempt) {
      this.attempt = e.attempt;
      this.pending = new Map();
      this.nextSeq = 0;
      this.assembled = "";
      this.verified = 0;
    }
    if (e.type !== "chunk" || e.attempt < this.attempt) return;
    if (e.seq < this.nextSeq) return; // duplicate
    this.pending.set(e.seq, e.text);
    let piece = this.pending.get(this.nextSeq);
    while (piece !== undefined) {
      this.pending.delete(this.nextSeq);
      this.nextSeq++;
      this.assembled += piece;
      piece = this.pending.get(this.nextSeq);
    }
    this.catchUp(this.assembled);
  }

  /**
   * Delivers whatever `text` (the attempt's text so far) adds beyond what the client has. Only
   * text[verified, …) is compared with what was delivered: earlier calls checked the rest.
   */
  private catchUp(text: string): void {
    if (this.diverged) return;
    const overlap = Math.min(text.length, this.delivered.length);
    if (overlap > this.verified) {
      if (text.slice(this.verified, overlap) !== this.delivered.slice(this.verified, overlap)) {
        this.diverged = true;
        this.notify();
        return;
      }
      this.verified = overlap;
    }
    if (text.length > this.delivered.length) {
      const delta = text.slice(this.delivered.length);
      this.delivered = text;
      this.verified = text.length;
      this.queue.push(delta);
      this.notify();
    }
  }

  /** The job is over: deliver the rest of the final text and end the stream. */
  finish(o: JobOutcome): void {
    if (this.ended) return;
    if (o.status === "completed") {
      this.verified = 0; // the final text is another string: compare all of it
      this.catchUp(o.text);
    }
    this.ended = true;
    this.resolve(o);
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /**
   * The text deltas in order. Deltas that arrived while the reader was busy come out as one
   * (a slow client gets fewer, larger events rather than a growing backlog).
   */
  async *stream(): AsyncIterable<string> {
    for (;;) {
      if (this.queue.length > 0) {
        const q = this.queue;
        this.queue = [];
        yield q.length === 1 ? (q[0] as string) : q.join("");
        continue;
      }
      if (this.diverged) throw new StreamDivergedError();
      if (this.ended) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
      // the chunks that came in the same turn of the event loop (one socket read holds several
      // frames) join this one: one SSE event and one write for them, at the cost of one setImmediate
      if (!this.ended && !this.diverged) await new Promise<void>((r) => setImmediate(r));
    }
  }
}

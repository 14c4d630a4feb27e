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

  /** Delivers whatever `text` (the attempt's text so far) adds beyond what the client has. */
  private catchUp(text: string): void {
    if (this.diverged) return;
    const overlap = Math.min(text.length, this.delivered.length);
    if (text.slice(0, overlap) !== this.delivered.slice(0, overlap)) {
      this.diverged = true;
      this.notify();
      return;
    }
    if (text.length > this.delivered.length) {
      const delta = text.slice(this.delivered.length);
      this.delivered = text;
      this.queue.push(delta);
      this.notify();
    }
  }

  /** The job is over: deliver the rest of the final text and end the stream. */
  finish(o: JobOutcome): void {
    if (this.ended) return;
    if (o.status === "completed") this.catchUp(o.text);
    this.ended = true;
    this.resolve(o);
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *stream(): AsyncIterable<string> {
    for (;;) {
      while (this.queue.length > 0) yield this.queue.shift() as string;
      if (this.diverged) throw new StreamDivergedError();
      if (this.ended) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
}

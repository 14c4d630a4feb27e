// JobWatch: in-order deltas across retries without repeats, batched when the reader is behind; final text settles.
import { describe, expect, test } from "bun:test";
import type { JobOutcome } from "./types.ts";
import { JobWatch, StreamDivergedError } from "./watch.ts";

const chunk = (attempt: number, seq: number, text: string) => ({ type: "chunk" as const, attempt, seq, text });
const done = (text: string): JobOutcome =>
  ({ status: "completed", text, finishReason: "stop", promptTokens: 1, completionTokens: text.length, error: null }) as JobOutcome;

async function collect(w: JobWatch): Promise<string[]> {
  const out: string[] = [];
  for await (const d of w.stream()) out.push(d);
  return out;
}

describe("JobWatch", () => {
  test("out-of-order and duplicate chunks come out once, in order", async () => {
    const w = new JobWatch("j");
    const reading = collect(w);
    w.onEvent(chunk(1, 1, "b"));
    w.onEvent(chunk(1, 0, "a"));
    w.onEvent(chunk(1, 0, "a"));
    await Bun.sleep(0);
    w.onEvent(chunk(1, 2, "c"));
    w.finish(done("abcd"));
    expect((await reading).join("")).toBe("abcd");
  });

  test("deltas that pile up while the reader is busy come out as one", async () => {
    const w = new JobWatch("j");
    for (let i = 0; i < 100; i++) w.onEvent(chunk(1, i, String(i % 10)));
    w.finish(done("0123456789".repeat(10)));
    expect(await collect(w)).toEqual(["0123456789".repeat(10)]);
  });

  test("a waiting reader gets the chunks of one event-loop turn as one delta, and later ones apart", async () => {
    const w = new JobWatch("j");
    const out: string[] = [];
    const reading = (async () => {
      for await (const d of w.stream()) out.push(d);
    })();
    await Bun.sleep(1);
    // one socket read's frames: each handled in its own microtask, all in one turn of the event loop
    for (const [i, t] of ["a", "b", "c"].entries()) {
      w.onEvent(chunk(1, i, t));
      await Promise.resolve();
    }
    await Bun.sleep(5);
    w.onEvent(chunk(1, 3, "d"));
    await Bun.sleep(5);
    w.finish(done("abcd"));
    await reading;
    expect(out).toEqual(["abc", "d"]);
  });

  test("a retried attempt streams on without repeating what the client already has", async () => {
    const w = new JobWatch("j");
    const out: string[] = [];
    const reading = (async () => {
      for await (const d of w.stream()) out.push(d);
    })();
    for (const [i, t] of ["Once", " upon", " a"].entries()) w.onEvent(chunk(1, i, t));
    await Bun.sleep(0);
    // attempt 2 starts over with the same seed: the first 13 characters are skipped
    for (const [i, t] of ["Once", " upon", " a", " time"].entries()) {
      w.onEvent(chunk(2, i, t));
      await Bun.sleep(0);
    }
    w.onEvent(chunk(1, 3, " LATE")); // the old attempt's chunk after the retry: ignored
    w.finish(done("Once upon a time."));
    await reading;
    expect(out.join("")).toBe("Once upon a time.");
    expect(out.at(-2)).toBe(" time");
  });

  test("a retry that writes something else ends the stream with stream_diverged", async () => {
    const w = new JobWatch("j");
    w.onEvent(chunk(1, 0, "Hello"));
    const it = w.stream()[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe("Hello");
    w.onEvent(chunk(2, 0, "Help"));
    await expect(it.next()).rejects.toBeInstanceOf(StreamDivergedError);
  });

  test("a divergence found only in the final text (each chunk checked once, the final text in full)", async () => {
    const w = new JobWatch("j");
    w.onEvent(chunk(1, 0, "abc"));
    const it = w.stream()[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe("abc");
    w.finish(done("abX and more"));
    await expect(it.next()).rejects.toBeInstanceOf(StreamDivergedError);
  });

  test("lost chunks are made good by the final text from the database", async () => {
    const w = new JobWatch("j");
    w.onEvent(chunk(1, 0, "one "));
    w.onEvent(chunk(1, 2, "three")); // seq 1 never arrives
    w.finish(done("one two three"));
    expect((await collect(w)).join("")).toBe("one two three");
  });
});

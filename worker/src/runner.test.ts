// JobRunner on the real engine: "auto" sequences, unloading to yield and loading again, deterministic jobs kept out of batches.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { LlamaEngine as Engine, estimateModelMemory, type LlamaEngine } from "@gogrid/native";
import type { JobAssignmentMessage, WorkerToCoordinator } from "@gogrid/protocol";
import { STORIES_MODEL } from "../../native/test/fixtures.ts";
import { autoConcurrency } from "./resources/concurrency.ts";
import { JobRunner, type RunnerOptions } from "./runner.ts";

setDefaultTimeout(60_000);

const SHA = "a".repeat(64);
const runners: JobRunner[] = [];
afterAll(() => {
  for (const r of runners) r.dispose();
});

let engine: Promise<LlamaEngine> | null = null;
async function runner(extra: Partial<RunnerOptions> = {}): Promise<{ r: JobRunner; sent: WorkerToCoordinator[]; logs: string[] }> {
  engine ??= Engine.open({ backend: "cpu", logLevel: "silent" });
  const sent: WorkerToCoordinator[] = [];
  const logs: string[] = [];
  const r = new JobRunner({
    engine: await engine,
    models: { path: async () => STORIES_MODEL },
    send: (m) => sent.push(m),
    maxConcurrent: "auto",
    contextSize: 512,
    threads: 1,
    log: (_l, m) => logs.push(m),
    ...extra,
  });
  runners.push(r);
  return { r, sent, logs };
}

let n = 0;
function job(prompt: string, extra: Partial<JobAssignmentMessage> = {}): JobAssignmentMessage {
  return {
    type: "job_assignment",
    job_id: `job-${++n}`,
    attempt: 1,
    fence: `f-${n}`,
    model: { id: "stories260K", sha256: SHA },
    prompt,
    params: { max_tokens: 30, temperature: 0, top_k: 0, top_p: 1, min_p: 0, repeat_penalty: 1, seed: 1, stop: [] },
    timeout_secs: 60,
    priority: 50,
    ...extra,
  };
}

function resultOf(sent: WorkerToCoordinator[], id: string) {
  const m = sent.find((x) => x.type === "job_result" && x.job_id === id);
  if (m?.type !== "job_result") throw new Error(`no job_result for ${id}`);
  return m;
}

describe("max_concurrent_jobs", () => {
  test("auto: sized at load from the model's KV cache and the free memory given, and logged", async () => {
    const est = await estimateModelMemory(STORIES_MODEL);
    const perSeq = est.kvBytesPerToken * 512;
    const free = 2 ** 30 + est.sizeBytes + 5.5 * perSeq;
    const { r, logs } = await runner({ freeMemory: (onGpu) => (onGpu ? 0 : free) });
    expect(r.capacity).toBe(1); // nothing known yet
    expect(await r.estimate([{ path: STORIES_MODEL, size: est.sizeBytes }])).toBe(5); // from the header, before loading
    await r.run(job("Once upon a time"));
    const want = autoConcurrency({
      kvBytesPerToken: est.kvBytesPerToken,
      contextPerSequence: 512,
      freeBytes: free,
      modelBytes: est.sizeBytes,
      onGpu: false,
    });
    expect(want.jobs).toBe(5);
    expect(r.capacity).toBe(5);
    expect(logs.some((l) => l.startsWith("max_concurrent_jobs = auto for model stories260K: 5 concurrent jobs"))).toBe(true);
  });

  test("an explicit number is used as it is", async () => {
    const { r } = await runner({ maxConcurrent: 3, freeMemory: () => 0 });
    expect(r.capacity).toBe(3);
    await r.run(job("Once upon a time"));
    expect(r.capacity).toBe(3);
  });
});

describe("yielding", () => {
  test("unloadWhenIdle waits for the running job, frees the model; the next job loads it again", async () => {
    const { r, sent, logs } = await runner({ maxConcurrent: 2 });
    const first = job("Once upon a time");
    await r.run(first);
    expect(r.modelLoaded).toBe(true);
    const long = job("Tom and Sue went to the beach", { params: { ...job("").params, max_tokens: 200 } });
    const running = r.run(long);
    await Bun.sleep(0);
    r.unloadWhenIdle("test");
    expect(r.modelLoaded).toBe(true); // its job still runs
    await running;
    expect(resultOf(sent, long.job_id).status).toBe("completed");
    expect(r.modelLoaded).toBe(false);
    expect(logs.some((l) => l.endsWith("unloaded: test"))).toBe(true);
    expect(r.capacity).toBe(2); // still what register says
    r.keepLoaded();
    const again = job("Once upon a time");
    await r.run(again);
    expect(r.modelLoaded).toBe(true);
    const text = resultOf(sent, first.job_id).text as string;
    expect(text.length).toBeGreaterThan(40);
    expect(resultOf(sent, again.job_id)).toMatchObject({ status: "completed", text });
  });
});

describe("deterministic jobs", () => {
  test("run in their own one-sequence context, never in a batch with others, with the same text", async () => {
    const { r, sent } = await runner({ maxConcurrent: 4 });
    const shared = ["Once upon a time", "The cat sat on the mat"].map((p) => job(p, { params: { ...job("").params, max_tokens: 60 } }));
    const audited = job("Tom and Sue went to the beach", { deterministic: true, params: { ...job("").params, max_tokens: 60 } });
    await Promise.all([...shared, audited].map((j) => r.run(j)));
    const stats = r.contextStats();
    expect(stats?.shared.peakGenerating).toBe(2);
    expect(stats?.solo?.peakGenerating).toBe(1);
    expect(stats?.solo?.generatedTokens).toBeGreaterThan(0);
    // and the text is what the shared context gives it
    const plain = job("Tom and Sue went to the beach", { params: { ...job("").params, max_tokens: 60 } });
    await r.run(plain);
    expect(resultOf(sent, audited.job_id).text).toBe(resultOf(sent, plain.job_id).text as string);
  });
});

// Admission (issue 10): the online-worker and queue counts are reused briefly but never refuse a job wrongly.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteRepository } from "../db/sqlite-repository.ts";
import { LocalBus } from "./bus.ts";
import { Scheduler, type WorkerSlot } from "./scheduler.ts";
import { JobService } from "./service.ts";
import { JobRejectedError, type SubmitInput } from "./types.ts";

const input: SubmitInput = {
  apiKeyId: null,
  model: "m1",
  request: {
    kind: "completion",
    prompt: "x",
    params: { max_tokens: 4, temperature: 0, top_k: 1, top_p: 1, min_p: 0, repeat_penalty: 1, seed: 1, stop: [] },
  },
};

async function setup(queueLimit: number) {
  const repo = openSqliteRepository(":memory:");
  await repo.upsertModel({ id: "m1", source: "/m1.gguf", sha256: "0".repeat(64), sizeBytes: 1, contextLength: null, createdAt: 1 });
  let now = 1_000;
  const jobs = new JobService(repo, new LocalBus(), { instanceId: "i1", queueLimit, maxAttempts: 3, timeoutMs: 1000, now: () => now });
  return { repo, jobs, advance: (ms: number) => (now += ms) };
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as JobRejectedError,
  );

test("no worker: 503 no_capacity (Retry-After 30), and a worker that comes online is seen at once", async () => {
  const { repo, jobs } = await setup(10);
  const err = await rejection(jobs.submit(input));
  expect(err).toBeInstanceOf(JobRejectedError);
  expect(err).toMatchObject({ code: "no_capacity", retryAfterSecs: 30 });
  await repo.createWorker({ nodeId: "w1", clientId: null, name: null, ownerId: null }, 1);
  await repo.updateWorker("w1", { status: "idle" });
  expect((await jobs.submit(input)).id).toBeString();
  jobs.close();
  await repo.close();
});

test("full queue: 503 queue_full (Retry-After 5) at exactly the limit, counting this instance's own submissions", async () => {
  const { repo, jobs, advance } = await setup(3);
  await repo.createWorker({ nodeId: "w1", clientId: null, name: null, ownerId: null }, 1);
  await repo.updateWorker("w1", { status: "idle" });
  for (let i = 0; i < 3; i++) await jobs.submit(input);
  expect(await rejection(jobs.submit(input))).toMatchObject({ code: "queue_full", retryAfterSecs: 5 });
  // a job leaves the queue: the fresh count taken before refusing lets the next one in
  const leased = await repo.leaseNextJob({ workerId: "w1", models: ["m1"], now: 2_000, leaseMs: 1000, fence: "f" });
  expect(leased).not.toBeNull();
  expect((await jobs.submit(input)).id).toBeString();
  expect(await rejection(jobs.submit(input))).toMatchObject({ code: "queue_full" });
  // the worker goes offline: seen once the cached count is older than a second
  await repo.updateWorker("w1", { status: "offline" });
  await repo.cancelJob(leased?.id as string, 2_000);
  for (const j of await repo.listJobs({ status: ["queued"] })) await repo.cancelJob(j.id, 2_000);
  advance(1_000);
  expect(await rejection(jobs.submit(input))).toMatchObject({ code: "no_capacity" });
  jobs.close();
  await repo.close();
});

test("a removed model is refused within the cache time (404 model_not_found); an unknown one at once", async () => {
  const { repo, jobs, advance } = await setup(10);
  await repo.createWorker({ nodeId: "w1", clientId: null, name: null, ownerId: null }, 1);
  await repo.updateWorker("w1", { status: "idle" });
  expect(await rejection(jobs.submit({ ...input, model: "nope" }))).toMatchObject({ code: "model_not_found" });
  expect((await jobs.submit(input)).id).toBeString();
  expect(await repo.removeModel("m1")).toBe(true);
  advance(1_000);
  expect(await rejection(jobs.submit(input))).toMatchObject({ code: "model_not_found" });
  jobs.close();
  await repo.close();
});

test("sweep: waiters whose job ended without an event (another process) are settled, in one query for all", async () => {
  const { repo, jobs } = await setup(100);
  await repo.createWorker({ nodeId: "w1", clientId: null, name: null, ownerId: null }, 1);
  await repo.updateWorker("w1", { status: "idle" });
  const submitted = await Promise.all(Array.from({ length: 5 }, () => jobs.submit(input)));
  // gogrid-admin cancels two from its own process: no bus event reaches this instance
  for (const s of submitted.slice(0, 2)) await repo.cancelJob(s.id, 2_000);
  let queries = 0;
  const getJobs = repo.getJobs.bind(repo);
  repo.getJobs = (ids) => {
    queries++;
    return getJobs(ids);
  };
  await jobs.sweep();
  expect(queries).toBe(1);
  for (const s of submitted.slice(0, 2)) expect((await s.result).status).toBe("cancelled");
  const open = await Promise.race([submitted[2]!.result.then(() => "settled"), Bun.sleep(20).then(() => "open")]);
  expect(open).toBe("open");
  jobs.close();
  await repo.close();
});

test("SQLite: a submitted job's lease joins its enqueue's commit, and its worker hears of it only once committed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gogrid-service-"));
  const path = join(dir, "jobs.sqlite");
  const repo = openSqliteRepository(path);
  await repo.upsertModel({ id: "m1", source: "/m1.gguf", sha256: "0".repeat(64), sizeBytes: 1, contextLength: null, createdAt: 1 });
  await repo.createWorker({ nodeId: "w1", clientId: null, name: null, ownerId: null }, 1);
  await repo.updateWorker("w1", { status: "idle" });
  const bus = new LocalBus();
  const jobs = new JobService(repo, bus, { instanceId: "i1", queueLimit: 10, maxAttempts: 3, timeoutMs: 1000 });
  const other = new Database(path, { readonly: true });
  const seenByWorker: { id: string; committedStatus: unknown }[] = [];
  const slot: WorkerSlot = {
    nodeId: "w1",
    status: "idle",
    capacity: 4,
    running: 0,
    models: ["m1"],
    assign(job) {
      // what another connection (anyone but this transaction) sees when the worker is told
      const row = other.query("select status from jobs where id = ?").get(job.id) as { status: string } | null;
      seenByWorker.push({ id: job.id, committedStatus: row?.status });
    },
  };
  const scheduler = new Scheduler(repo, bus, { leaseMs: 30_000, retryBaseMs: 1000, offlineAfterMs: 60_000 }, () => [slot]);
  scheduler.trigger(); // the first pass reads the models and the slot's facts
  await Bun.sleep(20);
  const before = repo.commits;
  const submitted = await jobs.submit(input);
  await Bun.sleep(20);
  expect(seenByWorker).toEqual([{ id: submitted.id, committedStatus: "running" }]);
  expect(repo.commits - before).toBe(1);
  scheduler.close();
  jobs.close();
  other.close();
  await repo.close();
  rmSync(dir, { recursive: true, force: true });
});

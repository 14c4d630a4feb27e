import { describe, expect, test } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { Repository } from "../db/repository.ts";
import { earningsByDay, overview, recentJobs, throughput, withJobCache, workers } from "./data.ts";
import { EarningsResponse, JobsResponse, Overview, ThroughputResponse, WorkersResponse } from "./model.ts";
import { fakeRepository, job, worker } from "./testing.ts";

const NOW = Date.UTC(2025, 5, 10, 12, 30, 30); // 2025-06-10 12:30:30 UTC
const MIN = 60_000;
const DAY = 86_400_000;
const gpuInfo = (name: string, backend: string, n = 1) => ({
  gpu_info: Array.from({ length: n }, () => ({ name, vendor: "nvidia", vram_mb: 24_576, backend })),
  resource_mode: "aggressive",
});

const repo = fakeRepository({
  workers: [
    worker({ nodeId: "n-off", name: "old", status: "offline", lastHeartbeatAt: NOW - DAY }),
    worker({
      nodeId: "n-busy",
      name: "rig",
      status: "busy",
      info: gpuInfo("RTX 4090", "cuda", 2),
      lastHeartbeatAt: NOW - 2000,
      trust: 0.9,
    }),
    worker({ nodeId: "n-idle", clientId: "laptop-1", status: "idle", info: gpuInfo("M2", "metal"), lastHeartbeatAt: NOW - 1000 }),
    worker({ nodeId: "n-paused", status: "paused" }),
    worker({ nodeId: "n-thr", status: "throttled", trust: 0.6, quarantinedAt: NOW - MIN, quarantineReason: "canary c1: wrong answer" }),
    worker({ nodeId: "n-rev", status: "offline", revokedAt: NOW - DAY }),
  ],
  jobs: [
    // finished 30 s ago: in the last minute and the last 10 minutes
    job({ id: "a", createdAt: NOW - 32_000, finishedAt: NOW - 30_000, workerId: "n-busy", promptTokens: 5, completionTokens: 120 }),
    // finished 5 min ago
    job({ id: "b", createdAt: NOW - 5 * MIN - 900, finishedAt: NOW - 5 * MIN, workerId: "n-busy", completionTokens: 60, attempts: 3 }),
    // finished 30 min ago: only in the throughput series
    job({ id: "c", createdAt: NOW - 30 * MIN - 100, finishedAt: NOW - 30 * MIN, workerId: "n-idle", completionTokens: 10 }),
    // finished 2 h ago: in no window
    job({ id: "d", createdAt: NOW - 120 * MIN, finishedAt: NOW - 119 * MIN, workerId: "n-idle", completionTokens: 999 }),
    job({ id: "q1", status: "queued", createdAt: NOW - 1000 }),
    job({ id: "q2", status: "queued", createdAt: NOW - 900, purpose: "audit" }),
    job({ id: "r1", status: "running", createdAt: NOW - 800, workerId: "n-busy", attempts: 1 }),
    job({
      id: "f1",
      status: "dead",
      createdAt: NOW - 700,
      finishedAt: NOW - 100,
      attempts: 3,
      error: { code: "worker_lost", message: "gone" },
    }),
  ],
  ledger: [
    {
      jobId: "a",
      nodeId: "n-busy",
      ownerId: null,
      model: "m",
      promptTokens: 5,
      completionTokens: 120,
      amountMicros: 240,
      at: NOW - 30_000,
    },
    {
      jobId: "b",
      nodeId: "n-busy",
      ownerId: null,
      model: "m",
      promptTokens: 0,
      completionTokens: 60,
      amountMicros: 120,
      at: NOW - 5 * MIN,
    },
    {
      jobId: "c",
      nodeId: "n-idle",
      ownerId: null,
      model: "m",
      promptTokens: 0,
      completionTokens: 10,
      amountMicros: 20,
      at: NOW - 30 * MIN,
    },
    {
      jobId: "d",
      nodeId: "n-idle",
      ownerId: null,
      model: "m",
      promptTokens: 0,
      completionTokens: 999,
      amountMicros: 1998,
      at: NOW - 2 * DAY,
    },
    { jobId: "x", nodeId: "n-idle", ownerId: null, model: "m", promptTokens: 0, completionTokens: 1, amountMicros: 7, at: NOW - 40 * DAY },
  ],
});

describe("dashboard data", () => {
  test("overview: workers by status, rates, queue, earnings", async () => {
    const o = await overview(repo, NOW);
    expect(TypeCompiler.Compile(Overview).Check(o)).toBe(true);
    expect(o.workers).toEqual({ total: 6, online: 0, idle: 1, busy: 1, paused: 1, throttled: 1, offline: 1, revoked: 1, quarantined: 1 });
    expect(o.jobsPerMinute).toBeCloseTo(0.2); // a and b in the last 10 minutes
    expect(o.tokensPerSecond).toBeCloseTo(2); // 120 tokens in the last minute
    expect(o.queueDepth).toBe(2);
    expect(o.running).toBe(1);
    expect(o.earnings).toEqual({ todayMicros: 380, totalMicros: 2385, totalJobs: 5 });
  });

  test("workers: GPU, backend, mode, credited jobs and earnings per node; busy first", async () => {
    const r = await workers(repo, NOW);
    expect(TypeCompiler.Compile(WorkersResponse).Check(r)).toBe(true);
    expect(r.workers.map((w) => w.nodeId)).toEqual(["n-busy", "n-idle", "n-thr", "n-paused", "n-off", "n-rev"]);
    const [busy, idle] = r.workers;
    expect(busy).toMatchObject({ name: "rig", gpu: "2× RTX 4090", vramMb: 49_152, backend: "cuda", mode: "aggressive" });
    expect(busy).toMatchObject({ status: "busy", jobsCompleted: 2, earningsMicros: 360, trust: 0.9, lastHeartbeatAt: NOW - 2000 });
    expect(idle).toMatchObject({ name: "laptop-1", gpu: "M2", backend: "metal", jobsCompleted: 3, earningsMicros: 2025 });
    expect(r.workers.find((w) => w.nodeId === "n-rev")?.status).toBe("revoked");
    expect(r.workers.find((w) => w.nodeId === "n-paused")).toMatchObject({ gpu: null, backend: null, mode: null, jobsCompleted: 0 });
    expect(busy).toMatchObject({ quarantinedAt: null, quarantineReason: null });
    expect(r.workers.find((w) => w.nodeId === "n-thr")).toMatchObject({
      trust: 0.6,
      quarantinedAt: NOW - MIN,
      quarantineReason: "canary c1: wrong answer",
    });
  });

  test("recent jobs: newest first, latency, worker name, retries, error", async () => {
    const r = await recentJobs(repo, NOW, 5);
    expect(TypeCompiler.Compile(JobsResponse).Check(r)).toBe(true);
    expect(r.jobs.map((j) => j.id)).toEqual(["f1", "r1", "q2", "q1", "a"]);
    expect(r.jobs[0]).toMatchObject({ status: "dead", retries: 2, latencyMs: 600, error: "worker_lost: gone" });
    expect(r.jobs[1]).toMatchObject({ status: "running", latencyMs: null, worker: "rig", retries: 0, purpose: "client" });
    expect(r.jobs[2]).toMatchObject({ id: "q2", purpose: "audit" });
    expect(r.jobs[4]).toMatchObject({ status: "completed", latencyMs: 2000, worker: "rig", promptTokens: 5, completionTokens: 120 });
  });

  test("earnings: the last 30 UTC days, zero-filled", async () => {
    const r = await earningsByDay(repo, NOW);
    expect(TypeCompiler.Compile(EarningsResponse).Check(r)).toBe(true);
    expect(r.days).toHaveLength(30);
    expect(r.days[0]?.day).toBe("2025-05-12");
    expect(r.days.at(-1)).toEqual({ day: "2025-06-10", amountMicros: 380, jobs: 3 });
    expect(r.days.at(-3)).toEqual({ day: "2025-06-08", amountMicros: 1998, jobs: 1 });
    expect(r.days.reduce((s, d) => s + d.amountMicros, 0)).toBe(2378); // the 40-day-old credit is left out
  });

  test("throughput: completion tokens per minute, 60 minutes", async () => {
    const r = await throughput(repo, NOW);
    expect(TypeCompiler.Compile(ThroughputResponse).Check(r)).toBe(true);
    expect(r.minutes).toHaveLength(60);
    expect(r.minutes.at(-1)?.t).toBe(Date.UTC(2025, 5, 10, 12, 30));
    expect(r.minutes[0]?.t).toBe(Date.UTC(2025, 5, 10, 11, 31));
    expect(r.minutes.at(-1)).toMatchObject({ tokens: 120, jobs: 1 }); // job a finished at 12:30:00
    expect(r.minutes.at(-6)).toMatchObject({ tokens: 60, jobs: 1 }); // job b at 12:25:30
    expect(r.minutes.at(-31)).toMatchObject({ tokens: 10, jobs: 1 }); // job c at 12:00:30
    expect(r.minutes.reduce((s, m) => s + m.tokens, 0)).toBe(190);
  });

  test("withJobCache: one listJobs per filter within the time to live", async () => {
    let calls = 0;
    let t = 0;
    const counted: Repository = {
      ...repo, // the fake is a plain object
      listJobs: (f) => {
        calls++;
        return repo.listJobs(f);
      },
    };
    const cached = withJobCache(counted, () => t, 1000);
    await cached.listJobs({ status: ["completed"] });
    await cached.listJobs({ status: ["completed"] });
    expect(calls).toBe(1);
    await cached.listJobs({ limit: 5 });
    expect(calls).toBe(2);
    t = 1000;
    expect(await cached.listJobs({ status: ["completed"] })).toHaveLength(4);
    expect(calls).toBe(3);
    expect(await cached.countJobs("queued")).toBe(2);
  });

  test("an empty grid", async () => {
    const empty = fakeRepository({ workers: [], jobs: [], ledger: [] });
    const o = await overview(empty, NOW);
    expect(o.workers.total).toBe(0);
    expect(o.jobsPerMinute).toBe(0);
    expect((await workers(empty, NOW)).workers).toEqual([]);
    expect((await earningsByDay(empty, NOW)).days.every((d) => d.amountMicros === 0)).toBe(true);
  });
});

// AuditService against a real (in-memory SQLite) repository, with simulated workers driven step by step.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { JobRow, Repository } from "../db/repository.ts";
import { freshSqlite } from "../db/testing.ts";
import { creditCompletedJob } from "../earnings/ledger.ts";
import type { Bus } from "../jobs/bus.ts";
import type { JobRequest } from "../jobs/types.ts";
import type { AuditSettings } from "./model.ts";
import { AuditService } from "./service.ts";

setDefaultTimeout(30_000);

/** mulberry32: a small seeded PRNG, so every run of a seed is the same run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const quietBus: Bus = { publish: async () => {}, subscribe: () => () => {}, close: async () => {} };
const CLASS_INFO = { gpu_info: [{ name: "RTX", vendor: "nvidia", vram_mb: 8192, backend: "cuda" }], arch: "x64" };
const WORDS = ["the", "dog", "ran", "happy", "sun", "a", "little", "girl", "tree", "big", "played", "mom", "said", "and", "then"];

/** The model: a deterministic function of the prompt (what an honest worker computes). */
const model = (prompt: string) => `Once upon a time, ${prompt.split("").reverse().join("")} lived happily ever after.`;
const promptOf = (job: JobRow) => (job.request as unknown as JobRequest).prompt ?? "";

type Behave = (job: JobRow, random: () => number) => string;
/** Honest, but `noise` of its runs flip a near-tie at the very first token (the worst case for us). */
const honest =
  (noise = 0): Behave =>
  (job, random) =>
    random() < noise ? `Twice${model(promptOf(job)).slice(4)}` : model(promptOf(job));
/** Plausible garbage: story words, never the model's output. */
const cheater: Behave = (_job, random) => Array.from({ length: 12 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(" ");

const SETTINGS: AuditSettings = {
  fraction: 1,
  deterministicFraction: 1,
  canaryFraction: 0,
  prior: 8,
  threshold: 0.7,
  maxAttempts: 3,
  timeoutMs: 60_000,
  staleMs: 3_600_000,
};

interface Sim {
  repo: Repository;
  svc: AuditService;
  /** Client jobs each worker completed before it was quarantined (all audited when fraction = 1). */
  auditedBeforeQuarantine(nodeId: string): Promise<number>;
}

async function simulate(opts: {
  seed: number;
  workers: Record<string, Behave>;
  jobs: number;
  settings?: Partial<AuditSettings>;
  canaries?: { prompt: string; maxTokens: number }[];
}): Promise<Sim> {
  const repo = freshSqlite();
  const random = rng(opts.seed);
  let now = 1_000;
  const svc = new AuditService(repo, quietBus, { ...SETTINGS, ...opts.settings }, { random, now: () => now });
  const ids = Object.keys(opts.workers);
  for (const id of ids) {
    await repo.createWorker({ nodeId: id, clientId: null, name: id, ownerId: null }, 0);
    await repo.updateWorker(id, { status: "idle", info: CLASS_INFO });
  }
  for (const [i, c] of (opts.canaries ?? []).entries())
    await repo.addCanary({
      id: `canary-${i}`,
      model: "m",
      prompt: c.prompt,
      expected: model(c.prompt),
      maxTokens: c.maxTokens,
      workerClass: null,
      createdAt: 0,
    });
  let fence = 0;

  /** Runs queued jobs, each on a random worker that may take it, until none is left that anyone may take. */
  async function drain(): Promise<void> {
    for (;;) {
      const free = [];
      for (const id of ids) if ((await repo.getWorker(id))?.quarantinedAt === null) free.push(id);
      free.sort(() => random() - 0.5);
      let ran = false;
      for (const id of free) {
        const job = await repo.leaseNextJob({
          workerId: id,
          models: ["m"],
          now,
          leaseMs: 60_000,
          fence: `f${++fence}`,
          workerClass: "cuda/x64",
        });
        if (!job) continue;
        const text = (opts.workers[id] as Behave)(job, random);
        await repo.completeJob(job.id, job.fence as string, { text, finishReason: "stop", promptTokens: 3, completionTokens: 9 }, now);
        await svc.onJobFinished(job.id);
        ran = true;
        break;
      }
      if (!ran) return;
    }
  }

  for (let i = 0; i < opts.jobs; i++) {
    now += 1;
    const id = `job-${i}`;
    const input = {
      apiKeyId: "k",
      model: "m",
      request: {
        kind: "completion" as const,
        prompt: `prompt number ${i}`,
        params: { max_tokens: 32, temperature: 0.8, top_k: 40, top_p: 0.95, min_p: 0, repeat_penalty: 1, seed: i, stop: [] },
      },
    };
    const request = await svc.prepare(id, input);
    await repo.enqueueJob({
      id,
      apiKeyId: "k",
      model: "m",
      request: request as unknown as Record<string, unknown>,
      timeoutMs: 60_000,
      originInstance: null,
      now,
    });
    await drain();
  }
  return {
    repo,
    svc,
    async auditedBeforeQuarantine(nodeId) {
      const w = await repo.getWorker(nodeId);
      const done = await repo.listJobs({ workerId: nodeId, status: ["completed"] });
      return done.filter((j) => j.purpose === "client" && (w?.quarantinedAt == null || j.createdAt <= w.quarantinedAt)).length;
    },
  };
}

describe("AuditService (simulated grid)", () => {
  test("a cheater among three honest workers (5% early noise) is quarantined within 20 audited jobs; the honest never", async () => {
    const took: number[] = [];
    const involved: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const sim = await simulate({
        seed,
        workers: { h1: honest(0.05), h2: honest(0.05), h3: honest(0.05), cheat: cheater },
        jobs: 40,
      });
      const cheat = await sim.repo.getWorker("cheat");
      expect(cheat?.quarantinedAt).not.toBeNull();
      took.push(await sim.auditedBeforeQuarantine("cheat"));
      const at = cheat?.quarantinedAt as number;
      involved.push((await sim.repo.listAudits({ workerId: "cheat" })).filter((a) => a.kind === "audit" && a.createdAt <= at).length);
      for (const h of ["h1", "h2", "h3"]) expect((await sim.repo.getWorker(h))?.quarantinedAt).toBeNull();
      // blamed only by a majority: every mismatch names the cheater, or a noisy honest run
      const mismatches = await sim.repo.listAudits({ status: ["mismatch"] });
      expect(mismatches.filter((a) => a.culprit === "cheat").length).toBeGreaterThanOrEqual(4);
      await sim.repo.close();
    }
    console.log(`audited jobs of the cheater before quarantine, seeds 1-10: ${took.join(", ")} (max ${Math.max(...took)})`);
    console.log(`audits it took part in (its own or as auditor/third) before quarantine: ${involved.join(", ")}`);
    expect(Math.max(...took)).toBeLessThanOrEqual(20);
  });

  test("honest workers with 5% early noise stay above the threshold over 200 audited jobs (6 seeds)", async () => {
    let lowest = 1;
    for (let seed = 11; seed <= 16; seed++) {
      const sim = await simulate({ seed, workers: { a: honest(0.05), b: honest(0.05), c: honest(0.05), d: honest(0.05) }, jobs: 200 });
      for (const w of await sim.repo.listWorkers()) {
        expect(w.quarantinedAt).toBeNull();
        lowest = Math.min(lowest, w.trust);
      }
      await sim.repo.close();
    }
    console.log(`lowest honest trust over 6 seeds x 200 audited jobs: ${lowest.toFixed(3)} (threshold 0.7)`);
    expect(lowest).toBeGreaterThanOrEqual(0.7);
  });

  test("two workers: a disagreement with no third opinion sends canaries, which catch the cheater", async () => {
    const sim = await simulate({
      seed: 5,
      workers: { honest: honest(), cheat: cheater },
      jobs: 30,
      canaries: [
        { prompt: "canary one", maxTokens: 32 },
        { prompt: "canary two", maxTokens: 32 },
      ],
    });
    expect((await sim.repo.getWorker("cheat"))?.quarantinedAt).not.toBeNull();
    expect((await sim.repo.getWorker("honest"))?.quarantinedAt).toBeNull();
    const canaries = await sim.repo.listAudits();
    expect(canaries.some((a) => a.kind === "canary" && a.status === "mismatch" && a.culprit === "cheat")).toBe(true);
    expect(canaries.some((a) => a.kind === "canary" && a.status === "match" && a.subjectWorker === "honest")).toBe(true);
    expect(canaries.filter((a) => a.kind === "audit" && a.status === "mismatch")).toEqual([]); // no majority, no blame
    // checks are never paid; the cheater is paid nothing once quarantined, not even for client jobs
    const jobs = await sim.repo.listJobs();
    for (const j of jobs.filter((x) => x.purpose !== "client" && x.status === "completed"))
      expect(await creditCompletedJob(sim.repo, j, j.workerId as string, 1)).toMatchObject({ credited: false, reason: "not_client_job" });
    // a job the quarantined cheater still finishes (it held it when quarantined) earns nothing
    await sim.repo.enqueueJob({ id: "late", apiKeyId: "k", model: "m", request: {}, timeoutMs: 1, originInstance: null, now: 1 });
    const held = await sim.repo.leaseJob("late", { workerId: "cheat", models: ["m"], now: 1, leaseMs: 10_000, fence: "f-late" });
    const result = { text: "x", finishReason: "stop", promptTokens: 1, completionTokens: 1 };
    expect((await sim.repo.completeJob("late", held?.fence as string, result, 2))?.status).toBe("completed");
    expect(await creditCompletedJob(sim.repo, { id: "late" }, "cheat", 3)).toMatchObject({ credited: false, reason: "quarantined" });
    const honestJob = jobs.find((j) => j.purpose === "client" && j.workerId === "honest" && j.status === "completed") as JobRow;
    expect(await creditCompletedJob(sim.repo, honestJob, "honest", 1)).toMatchObject({ credited: true });
    // released: a fresh start, and paid again
    expect(await sim.svc.release("cheat")).toBe(true);
    expect(await sim.repo.getWorker("cheat")).toMatchObject({ quarantinedAt: null, trust: 1, auditMismatches: 0 });
    await sim.repo.close();
  });

  test("the sweep settles checks whose events were lost, and closes stale ones", async () => {
    const repo = freshSqlite();
    let now = 1_000;
    const svc = new AuditService(repo, quietBus, SETTINGS, { now: () => now, random: rng(1) });
    for (const id of ["a", "b"]) {
      await repo.createWorker({ nodeId: id, clientId: null, name: id, ownerId: null }, 0);
      await repo.updateWorker(id, { status: "idle", info: CLASS_INFO });
    }
    const req = {
      kind: "completion" as const,
      prompt: "p",
      params: { max_tokens: 1, temperature: 0, top_k: 0, top_p: 1, min_p: 0, repeat_penalty: 1, seed: 1, stop: [] },
    };
    const runOn = async (worker: string, text: string) => {
      const job = await repo.leaseNextJob({
        workerId: worker,
        models: ["m"],
        now,
        leaseMs: 60_000,
        fence: `f-${now}-${worker}`,
        workerClass: "cuda/x64",
      });
      expect(job).not.toBeNull();
      await repo.completeJob(job!.id, job!.fence as string, { text, finishReason: "stop", promptTokens: 1, completionTokens: 1 }, now);
      return job!;
    };
    for (const id of ["j1", "j2"]) {
      const request = await svc.prepare(id, { apiKeyId: "k", model: "m", request: req });
      await repo.enqueueJob({
        id,
        apiKeyId: "k",
        model: "m",
        request: request as unknown as Record<string, unknown>,
        timeoutMs: 1,
        originInstance: null,
        now,
      });
    }
    await runOn("a", "same");
    await runOn("a", "same");
    // no job_finished reached the service: the sweep starts both audits
    await svc.sweep();
    expect((await repo.getAudit("j1"))?.status).toBe("running");
    const rerun = await runOn("b", "same");
    expect(rerun.purpose).toBe("audit");
    await svc.sweep();
    const settled = (await repo.listAudits()).map((a) => a.status).sort();
    expect(settled).toEqual(["match", "running"]);
    // the other re-run never runs: after audit.stale_secs it is closed and its job cancelled
    now += SETTINGS.staleMs + 1;
    await svc.sweep();
    const stale = (await repo.listAudits({ status: ["unresolved"] }))[0];
    expect(stale?.detail).toBe("no worker finished the check in time");
    expect((await repo.getJob(stale?.auditJobId as string))?.status).toBe("cancelled");
    expect(await repo.getWorker("a")).toMatchObject({ auditMatches: 1, auditMismatches: 0 });
    await repo.close();
  });

  test("selection at submission: ~fraction audited, audited ⊂ deterministic, 0 disables both", async () => {
    const repo = freshSqlite();
    const svc = new AuditService(repo, quietBus, { ...SETTINGS, fraction: 0.02, deterministicFraction: 0.1 }, { random: rng(42) });
    const req = {
      kind: "completion" as const,
      prompt: "p",
      params: { max_tokens: 1, temperature: 0, top_k: 0, top_p: 1, min_p: 0, repeat_penalty: 1, seed: 1, stop: [] },
    };
    let deterministic = 0;
    for (let i = 0; i < 2000; i++) {
      const out = await svc.prepare(`j${i}`, { apiKeyId: null, model: "m", request: req });
      const audited = (await repo.getAudit(`j${i}`)) !== null;
      if (audited) expect(out.deterministic).toBe(true);
      if (out.deterministic) deterministic++;
    }
    const audited = (await repo.listAudits()).length;
    console.log(`of 2000 submissions: ${audited} picked for audit, ${deterministic} deterministic`);
    expect(audited).toBeGreaterThan(20);
    expect(audited).toBeLessThan(60);
    expect(deterministic).toBeGreaterThan(150);
    expect(deterministic).toBeLessThan(250);
    const off = new AuditService(repo, quietBus, { ...SETTINGS, fraction: 0, deterministicFraction: 0 });
    expect(await off.prepare("x", { apiKeyId: null, model: "m", request: req })).toBe(req);
    await repo.close();
  });
});

test("issue 10: a client job submitted here since start is looked up for an audit only when it was picked", async () => {
  const repo = freshSqlite();
  let lookups = 0;
  const counted = new Proxy(repo, {
    get(target, prop, receiver) {
      if (prop === "getAudit") {
        return (id: string) => {
          lookups++;
          return target.getAudit(id);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const draws = [0.9, 0.1]; // the first job is not picked, the second is
  const svc = new AuditService(
    counted,
    quietBus,
    { ...SETTINGS, fraction: 0.5, deterministicFraction: 0.5 },
    {
      instanceId: "i1",
      random: () => draws.shift() ?? 0.9,
    },
  );
  const request: JobRequest = {
    kind: "completion",
    prompt: "p",
    params: { max_tokens: 4, temperature: 0, top_k: 1, top_p: 1, min_p: 0, repeat_penalty: 1, seed: 1, stop: [] },
  };
  const finish = async (id: string, origin: string) => {
    const prepared = await svc.prepare(id, { apiKeyId: null, model: "m1", request });
    await repo.enqueueJob({
      id,
      apiKeyId: null,
      model: "m1",
      request: prepared as unknown as Record<string, unknown>,
      timeoutMs: 1000,
      originInstance: origin,
      now: Date.now(),
    });
    await repo.cancelJob(id, Date.now());
    await svc.onJobFinished(id);
  };
  await finish("plain", "i1");
  expect(lookups).toBe(0);
  await finish("picked", "i1");
  expect(lookups).toBe(1);
  expect((await repo.getAudit("picked"))?.status).toBe("skipped"); // it was handled: the job was cancelled
  await finish("elsewhere", "i2"); // another instance's job: always looked up
  expect(lookups).toBe(2);
  await svc.close();
  await repo.close();
});

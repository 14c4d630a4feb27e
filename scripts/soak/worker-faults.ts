// The scaffold of the worker-side faults: a coordinator, worker processes (optionally behind
// partition proxies), clients on the OpenAI API, and a chaos loop that injects one fault at a time.
import { freshPostgresUrl } from "../../coordinator/src/db/testing.ts";
import { enrolmentToken, start } from "../../coordinator/test/harness.ts";
import { check, mergeFigures } from "./checker.ts";
import { openAiClient, pricedModelKey, underFaults } from "./clients.ts";
import type { FaultResult, PartOptions, PartResult } from "./part.ts";
import { WorkerProc } from "./procs.ts";
import { PartitionProxy } from "./proxy.ts";

type Coordinator = Awaited<ReturnType<typeof start>>;

/** The coordinator's fencing as the soak sees it: which attempts were accepted and which refused. */
export class FenceLog {
  readonly accepted = new Map<string, number>();
  readonly refused = new Map<string, number>();

  /** Wraps the repository's fenced writes (the gateway looks them up at each call). */
  watch(c: Coordinator): void {
    const repo = c.repo;
    const complete = repo.completeJob.bind(repo);
    const completeAndCredit = repo.completeAndCreditJob.bind(repo);
    const extend = repo.extendLease.bind(repo);
    const fail = repo.failAttempt.bind(repo);
    repo.completeJob = async (jobId, fence, result, now) => {
      const ok = await complete(jobId, fence, result, now);
      (ok ? this.accepted : this.refused).set(fence, Date.now());
      return ok;
    };
    // the gateway completes (and credits) a result with this one
    repo.completeAndCreditJob = async (jobId, fence, result, now, credit) => {
      const done = await completeAndCredit(jobId, fence, result, now, credit);
      (done ? this.accepted : this.refused).set(fence, Date.now());
      return done;
    };
    repo.extendLease = async (jobId, fence, until) => {
      const ok = await extend(jobId, fence, until);
      if (!ok) this.refused.set(fence, Date.now());
      return ok;
    };
    repo.failAttempt = async (jobId, fence, error, retryAt, now) => {
      const row = await fail(jobId, fence, error, retryAt, now);
      if (!row && error.code !== "worker_lost") this.refused.set(fence, Date.now());
      return row;
    };
  }
}

export interface FaultContext {
  c: Coordinator;
  workers: WorkerProc[];
  proxies: Map<WorkerProc, PartitionProxy>;
  fences: FenceLog;
  /** Starts a new worker process and waits for its welcome. */
  spawn(): Promise<WorkerProc>;
  log(line: string): void;
}

export interface WorkerFaultPlan {
  name: string;
  workers: number;
  capacity: number;
  concurrency: number;
  /** Clients go on until this many jobs were sent and every fault is done. */
  minJobs: number;
  faults: number;
  leaseSecs: number;
  chunkDelayMs: number;
  viaProxy: boolean;
  /** The coordinator marks a worker silent this long offline (its heartbeat timeout). */
  offlineAfterSecs?: number;
  heartbeatMs?: number;
  /** Injects one fault; returns its figures (merged: numbers summed, *_max maxed) and failures. */
  inject(ctx: FaultContext, victim: WorkerProc): Promise<FaultResult>;
}

/** Picks a worker that holds a job right now (waits for one). */
async function busyWorker(workers: WorkerProc[], ms: number): Promise<WorkerProc> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const busy = workers.filter((w) => w.holding().size > 0);
    if (busy.length > 0) return busy[Math.floor(Math.random() * busy.length)] as WorkerProc;
    await Bun.sleep(15);
  }
  throw new Error(`no worker held a job within ${ms} ms`);
}

export async function runWorkerFaults(plan: WorkerFaultPlan, opts: PartOptions): Promise<PartResult> {
  const t0 = performance.now();
  const pg = opts.postgres ? await freshPostgresUrl() : null;
  const c = await start({
    ...(pg ? { databaseUrl: pg.url } : {}),
    maxAttempts: 20,
    retryBaseMs: 20,
    leaseSecs: plan.leaseSecs,
    ...(plan.offlineAfterSecs ? { offlineAfterSecs: plan.offlineAfterSecs } : {}),
  });
  const fences = new FenceLog();
  fences.watch(c);
  const workers: WorkerProc[] = [];
  const proxies = new Map<WorkerProc, PartitionProxy>();
  const all: WorkerProc[] = [];
  const failures: string[] = [];
  const figures: Record<string, number> = {};
  const workerPort = Number(new URL(c.workerUrl).port);
  const spawn = async (): Promise<WorkerProc> => {
    const proxy = plan.viaProxy ? new PartitionProxy("127.0.0.1", workerPort) : null;
    const w = WorkerProc.spawn({
      apiUrl: c.apiUrl,
      token: await enrolmentToken(c.repo),
      ...(proxy ? { workerUrl: `wss://127.0.0.1:${proxy.port}` } : {}),
      capacity: plan.capacity,
      chunkDelayMs: plan.chunkDelayMs,
      heartbeatMs: plan.heartbeatMs ?? 2000,
      reconnectMs: 200,
    });
    all.push(w);
    if (proxy) proxies.set(w, proxy);
    await w.waitFor((e) => e.ev === "welcome", 20_000, 0, "welcome");
    workers.push(w);
    return w;
  };
  try {
    const key = await pricedModelKey(c.repo);
    await Promise.all(Array.from({ length: plan.workers }, spawn));
    const ctx: FaultContext = { c, workers, proxies, fences, spawn, log: opts.log };
    const fault = async () => plan.inject(ctx, await busyWorker(workers, 30_000));
    const records = await underFaults(plan, opts.log, openAiClient(c.apiUrl, key), fault, { figures, failures });
    const checked = await check(c.repo, records);
    failures.push(...checked.failures);
    mergeFigures(figures, checked.figures);
    figures.stale_refused = fences.refused.size;
    figures.seconds = Math.round((performance.now() - t0) / 100) / 10;
    return { part: plan.name, pass: failures.length === 0, totals: checked.totals, figures, failures };
  } finally {
    await Promise.all(all.map((w) => w.stop()));
    for (const p of proxies.values()) p.stop();
    await c.cleanup();
    await pg?.drop();
  }
}

/** After a worker's fault ends: every attempt it held and did not finish in time was refused, and its job went elsewhere. */
export async function checkStale(
  ctx: FaultContext,
  victim: WorkerProc,
  held: Map<string, string>,
  faultAt: number,
  waitMs: number,
): Promise<{ stale: number; refused: number; failures: string[] }> {
  const failures: string[] = [];
  // attempts the coordinator accepted before the fault began were not stale after all (a race with the pick)
  const stale = [...held].filter(([fence]) => !((ctx.fences.accepted.get(fence) ?? Infinity) <= faultAt + 50));
  const end = Date.now() + waitMs;
  while (Date.now() < end && stale.some(([fence]) => !ctx.fences.refused.has(fence))) await Bun.sleep(50);
  let refused = 0;
  for (const [fence, job] of stale) {
    if (ctx.fences.accepted.has(fence)) failures.push(`${victim.node}: its stale attempt of job ${job} was accepted (not fenced)`);
    else if (ctx.fences.refused.has(fence)) refused++;
    else failures.push(`${victim.node}: its stale attempt of job ${job} was neither refused nor accepted within ${waitMs} ms`);
    const row = await ctx.c.repo.getJob(job);
    if (row && row.fence === fence) failures.push(`job ${job} was not re-leased (still on fence ${fence})`);
  }
  return { stale: stale.length, refused, failures };
}

/** Seconds from `since` until the coordinator accepted a result of `w` (a fence handed out after `since`). */
export async function backAfter(ctx: FaultContext, w: WorkerProc, since: number, ms: number): Promise<number | null> {
  const end = since + ms;
  while (Date.now() < end) {
    for (const fence of w.fences()) {
      const t = ctx.fences.accepted.get(fence);
      if (t !== undefined && t > since) return (t - since) / 1000;
    }
    await Bun.sleep(50);
  }
  return null;
}

/**
 * The end of a fault that kept `victim` away since `at`, holding `held`: `resume` ends it; then
 * every stale attempt must be refused and the victim must complete a job within 15 s. `counter`
 * names the figure that counts these faults, `after` the resumption in the failure line.
 */
export async function staleThenBack(
  ctx: FaultContext,
  victim: WorkerProc,
  held: Map<string, string>,
  at: number,
  resume: () => void,
  counter: string,
  after: string,
): Promise<FaultResult> {
  const resumedAt = Date.now();
  resume();
  const stale = await checkStale(ctx, victim, held, at, 10_000);
  const back = await backAfter(ctx, victim, resumedAt, 15_000);
  const failures = [...stale.failures];
  if (back === null) failures.push(`${victim.node} did not complete a job within 15 s of ${after}`);
  return {
    figures: { [counter]: 1, stale_attempts: stale.stale, stale_attempts_refused: stale.refused, back_s_max: back ?? 99 },
    failures,
  };
}

// The scaffold of the server-side faults: the coordinator as a child process on Postgres, worker
// processes that reconnect, clients on the native API that poll by job id, one fault at a time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository } from "../../coordinator/src/db/open.ts";
import type { Repository } from "../../coordinator/src/db/repository.ts";
import { enrolmentToken } from "../../coordinator/test/harness.ts";
import { check, mergeFigures } from "./checker.ts";
import { nativeClient, pricedModelKey, underFaults } from "./clients.ts";
import type { FaultResult, PartOptions, PartResult } from "./part.ts";
import { CoordinatorProc, freePort, WorkerProc } from "./procs.ts";

export interface ServerFaultContext {
  coordinator: CoordinatorProc;
  repo: Repository;
  workers: WorkerProc[];
  log(line: string): void;
}

export interface ServerFaultPlan {
  name: string;
  workers: number;
  concurrency: number;
  minJobs: number;
  faults: number;
  /** Load before each fault. */
  loadMs: number;
  leaseSecs: number;
  /** A database URL for this run, and how to release it afterwards. */
  database(): Promise<{ url: string; store: string; release(): Promise<void> }>;
  inject(ctx: ServerFaultContext): Promise<FaultResult>;
}

/** Seconds until every worker reported a welcome after `since` (null if one did not within `ms`). */
export async function workersBack(workers: WorkerProc[], since: number, ms: number): Promise<number | null> {
  let last = since;
  for (const w of workers) {
    try {
      const e = await w.waitFor((x) => x.ev === "welcome" && x.t >= since, Math.max(1, since + ms - Date.now()), 0, "welcome");
      last = Math.max(last, e.t);
    } catch {
      return null;
    }
  }
  return (last - since) / 1000;
}

export async function runServerFaults(plan: ServerFaultPlan, opts: PartOptions): Promise<PartResult> {
  const t0 = performance.now();
  const db = await plan.database();
  opts.log(`${plan.name}: database ready (${db.store})`);
  const dataDir = mkdtempSync(join(tmpdir(), "gogrid-soak-coord-"));
  const repo = await openRepository(db.url);
  const coordinator = new CoordinatorProc({
    dataDir,
    databaseUrl: db.url,
    apiPort: freePort(),
    workerPort: freePort(),
    leaseSecs: plan.leaseSecs,
  });
  const workers: WorkerProc[] = [];
  const failures: string[] = [];
  const figures: Record<string, number | string> = { store: db.store };
  const counts: Record<string, number> = {};
  try {
    const key = await pricedModelKey(repo);
    mergeFigures(counts, { coordinator_start_s_max: await coordinator.start() });
    for (let i = 0; i < plan.workers; i++) {
      workers.push(
        WorkerProc.spawn({
          apiUrl: coordinator.apiUrl,
          token: await enrolmentToken(repo),
          capacity: 2,
          chunkDelayMs: 15,
          heartbeatMs: 2000,
          reconnectMs: 250,
        }),
      );
    }
    for (const w of workers) await w.waitFor((e) => e.ev === "welcome", 20_000, 0, "welcome");
    opts.log(`${plan.name}: ${plan.workers} workers joined`);
    const ctx: ServerFaultContext = { coordinator, repo, workers, log: opts.log };
    const fault = async (i: number) => {
      await Bun.sleep(plan.loadMs);
      opts.log(`${plan.name}: fault ${i + 1}/${plan.faults}`);
      return await plan.inject(ctx);
    };
    const submit = nativeClient(() => coordinator.apiUrl, key, 120_000);
    const records = await underFaults(plan, opts.log, submit, fault, { figures: counts, failures });
    opts.log(`${plan.name}: clients done (${records.length} sent)`);
    if (!coordinator.alive()) failures.push("the coordinator was not running at the end");
    const checked = await check(repo, records, 60_000);
    failures.push(...checked.failures);
    mergeFigures(counts, checked.figures);
    Object.assign(figures, counts, { seconds: Math.round((performance.now() - t0) / 100) / 10 });
    return { part: plan.name, pass: failures.length === 0, totals: checked.totals, figures, failures };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    if (failures.length > 0) opts.log(`${plan.name}: coordinator log tail:\n${coordinator.log.slice(-3000)}`);
    if (process.env.SOAK_DEBUG_LOG) await Bun.write(process.env.SOAK_DEBUG_LOG, coordinator.log);
    await coordinator.kill("SIGTERM").catch(() => {});
    await repo.close();
    await db.release();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

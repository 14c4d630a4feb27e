// Fault: simulated workers' sockets dropped mid-job (in process), replaced at once; nothing lost or paid twice.
import { freshPostgresUrl } from "../../coordinator/src/db/testing.ts";
import { enrolmentToken, start } from "../../coordinator/test/harness.ts";
import { enrol, SimWorker } from "../../coordinator/test/sim-worker.ts";
import { answer, check } from "./checker.ts";
import { openAiClient, pricedModelKey, runClients } from "./clients.ts";
import type { PartOptions, PartResult, SoakPart } from "./part.ts";

export interface DropPlan {
  jobs: number;
  workers: number;
  concurrency: number;
  dropEveryMs: number;
}

export const QUICK_DROPS: DropPlan = { jobs: 150, workers: 4, concurrency: 8, dropEveryMs: 40 };
export const FULL_DROPS: DropPlan = { jobs: 3000, workers: 8, concurrency: 32, dropEveryMs: 25 };

export async function runDrops(plan: DropPlan, opts: PartOptions): Promise<PartResult> {
  const pg = opts.postgres ? await freshPostgresUrl() : null;
  const c = await start({ ...(pg ? { databaseUrl: pg.url } : {}), maxAttempts: 10, retryBaseMs: 20, leaseSecs: 5 });
  const t0 = performance.now();
  const live = new Set<SimWorker>();
  let dropped = 0;
  let stopping = false;
  const spawnWorker = async () => {
    const w = new SimWorker(
      await enrol(c.apiUrl, await enrolmentToken(c.repo)),
      { kind: "answer", text: (j) => answer(j.prompt ?? ""), chunkDelayMs: 2 },
      { capacity: 2 },
    );
    if (await w.connect()) live.add(w);
  };
  try {
    const key = await pricedModelKey(c.repo);
    for (let i = 0; i < plan.workers; i++) await spawnWorker();
    // chaos: drop a worker that holds a job (its socket closes with no result), then replace it
    const chaos = (async () => {
      while (!stopping) {
        await Bun.sleep(plan.dropEveryMs);
        const running = new Set(
          c.gateway
            .slots()
            .filter((slot) => slot.running > 0)
            .map((slot) => slot.nodeId),
        );
        const busy = [...live].filter((w) => running.has(w.id.nodeId));
        const victim = busy[Math.floor(Math.random() * busy.length)];
        if (!victim || stopping) continue;
        live.delete(victim);
        victim.ws?.close(4003, "soak: dropped");
        dropped++;
        await spawnWorker();
      }
    })();
    const records = await runClients(openAiClient(c.apiUrl, key), plan.concurrency, (sent) => sent < plan.jobs);
    stopping = true;
    await chaos;
    const checked = await check(c.repo, records);
    const failures = [...checked.failures];
    if (dropped === 0) failures.push("no worker was dropped mid-job");
    return {
      part: "drops",
      pass: failures.length === 0,
      totals: checked.totals,
      figures: { ...checked.figures, workers_dropped: dropped, seconds: Math.round((performance.now() - t0) / 100) / 10 },
      failures,
    };
  } finally {
    stopping = true;
    for (const w of live) w.close();
    await c.cleanup();
    await pg?.drop();
  }
}

export const drops: SoakPart = {
  name: "drops",
  describe: "worker sockets dropped mid-job and replaced (3000 jobs full, 150 quick)",
  run: (opts) => runDrops(opts.quick ? QUICK_DROPS : FULL_DROPS, opts),
};

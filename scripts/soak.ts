// `bun run soak [--quick] [--postgres]`: jobs through the real API while workers are dropped mid-job;
// a checker records every accepted job and what the client got. Last stdout line: one JSON object.
import { parseArgs } from "node:util";
import { freshPostgresUrl } from "../coordinator/src/db/testing.ts";
import { addModel, apiKey, enrolmentToken, start } from "../coordinator/test/harness.ts";
import { enrol, SimWorker } from "../coordinator/test/sim-worker.ts";

export interface SoakResult {
  store: "sqlite" | "postgres";
  jobs: number;
  accepted: number;
  completed: number;
  failed_visibly: number;
  lost: number;
  duplicated: number;
  wrong: number;
  double_credited: number;
  workers_dropped: number;
  seconds: number;
}

/** The simulated model: what every honest worker answers for a prompt. */
const answer = (prompt: string) => `${prompt.split("").reverse().join("")}|${prompt.length}`;

export async function soak(opts: {
  jobs: number;
  workers: number;
  concurrency: number;
  dropEveryMs: number;
  postgres: boolean;
}): Promise<SoakResult> {
  const pg = opts.postgres ? await freshPostgresUrl() : null;
  const c = await start({ ...(pg ? { databaseUrl: pg.url } : {}), maxAttempts: 10, retryBaseMs: 20, leaseSecs: 5 });
  const t0 = performance.now();
  const live = new Set<SimWorker>();
  let dropped = 0;
  let stopping = false;
  const spawnWorker = async () => {
    // a third of the workers stream slowly enough to be caught mid-job
    const w = new SimWorker(
      await enrol(c.apiUrl, await enrolmentToken(c.repo)),
      { kind: "answer", text: (j) => answer(j.prompt ?? ""), chunkDelayMs: 2 },
      { capacity: 2 },
    );
    if (await w.connect()) live.add(w);
  };
  try {
    await addModel(c.repo);
    await c.repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 1_000_000, promptMicrosPer1k: 0 });
    const key = await apiKey(c.repo);
    for (let i = 0; i < opts.workers; i++) await spawnWorker();
    // chaos: drop a worker that holds a job (its socket closes with no result), then replace it
    const chaos = (async () => {
      while (!stopping) {
        await Bun.sleep(opts.dropEveryMs);
        // only workers the coordinator sees running a job right now: a drop mid-job
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
    const results: { prompt: string; status: number; text: string | null; id: string | null }[] = [];
    let next = 0;
    const client = async () => {
      while (next < opts.jobs) {
        const prompt = `soak job ${next++} ${Math.random().toString(36).slice(2, 8)}`;
        const res = await fetch(`${c.apiUrl}/v1/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "stories260K", prompt, max_tokens: 64 }),
        });
        const body = (await res.json()) as { id?: string; choices?: { text: string }[] };
        results.push({ prompt, status: res.status, text: body.choices?.[0]?.text ?? null, id: body.id?.replace(/^cmpl-/, "") ?? null });
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, client));
    stopping = true;
    await chaos;

    const accepted = results.filter((r) => r.status === 200 || r.status >= 500);
    const completed = results.filter((r) => r.status === 200 && r.text === answer(r.prompt));
    const wrong = results.filter((r) => r.status === 200 && r.text !== answer(r.prompt));
    const failed = results.filter((r) => r.status >= 500);
    // the database's view: every job final, each completed job credited exactly once
    const jobs = await c.repo.listJobs({});
    const unfinished = jobs.filter((j) => j.status === "queued" || j.status === "running");
    const ledger = await c.repo.listLedger({ limit: 1_000_000 });
    const perJob = new Map<string, number>();
    for (const e of ledger) perJob.set(e.jobId, (perJob.get(e.jobId) ?? 0) + 1);
    const completedIds = new Set(jobs.filter((j) => j.status === "completed").map((j) => j.id));
    const doubleCredited = [...perJob].filter(([id, n]) => n > 1 || !completedIds.has(id)).length;
    return {
      store: pg ? "postgres" : "sqlite",
      jobs: opts.jobs,
      accepted: accepted.length,
      completed: completed.length,
      failed_visibly: failed.length,
      lost: results.length < opts.jobs ? opts.jobs - results.length + unfinished.length : unfinished.length,
      duplicated: wrong.filter((r) => r.text !== null && r.text.length > answer(r.prompt).length).length,
      wrong: wrong.length,
      double_credited: doubleCredited,
      workers_dropped: dropped,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    stopping = true;
    for (const w of live) w.close();
    await c.cleanup();
    await pg?.drop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { quick: { type: "boolean" }, postgres: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(
      "usage: bun run soak [--quick] [--postgres]\n  jobs through the API while workers are dropped mid-job; prints a table, then one JSON line",
    );
    process.exit(0);
  }
  const r = await soak(
    values.quick
      ? { jobs: 150, workers: 4, concurrency: 8, dropEveryMs: 40, postgres: !!values.postgres }
      : { jobs: 3000, workers: 8, concurrency: 32, dropEveryMs: 25, postgres: !!values.postgres },
  );
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(16)} ${v}`);
  console.log(JSON.stringify(r));
  process.exit(r.lost === 0 && r.duplicated === 0 && r.double_credited === 0 && r.wrong === 0 ? 0 : 1);
}

// Soak clients: the OpenAI API (one blocking request per job) and the native API (queue, then poll by id).
import type { Repository } from "../../coordinator/src/db/repository.ts";
import { addModel, apiKey } from "../../coordinator/test/harness.ts";
import { answer, type ClientRecord, mergeFigures } from "./checker.ts";
import type { FaultResult } from "./part.ts";

export type Submit = (prompt: string) => Promise<ClientRecord>;

const REFUSALS = new Set(["no_capacity", "queue_full"]);

function classify(prompt: string, text: string | null): "completed" | "wrong" {
  return text === answer(prompt) ? "completed" : "wrong";
}

/** POST /v1/completions and wait for the answer. */
export function openAiClient(apiUrl: string, key: string): Submit {
  return async (prompt) => {
    let res: Response;
    try {
      res = await fetch(`${apiUrl}/v1/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "stories260K", prompt, max_tokens: 64 }),
      });
    } catch (e) {
      // the request may or may not have been queued: the checker finds such jobs as orphans
      return { prompt, id: null, outcome: "refused", text: null, detail: `fetch: ${(e as Error).message}` };
    }
    const body = (await res.json().catch(() => ({}))) as { id?: string; choices?: { text: string }[]; error?: { code?: string } };
    const id = body.id?.replace(/^cmpl-/, "") ?? null;
    if (res.status === 200) {
      const text = body.choices?.[0]?.text ?? null;
      return { prompt, id, outcome: classify(prompt, text), text, detail: "200" };
    }
    const code = body.error?.code ?? "";
    if (res.status === 503 && REFUSALS.has(code)) return { prompt, id: null, outcome: "refused", text: null, detail: `503 ${code}` };
    return { prompt, id, outcome: "failed", text: null, detail: `${res.status} ${code}` };
  };
}

interface JobView {
  id?: string;
  status?: string;
  result?: { text: string } | null;
  error?: { code?: string } | null;
}

/**
 * POST /api/v1/jobs, then GET /api/v1/jobs/:id until the job ends; connection errors while the
 * coordinator is down are retried until `giveUpMs` after the submission (then the job counts as lost).
 */
export function nativeClient(apiUrl: () => string, key: string, giveUpMs: number, pollMs = 150): Submit {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  return async (prompt) => {
    let res: Response;
    try {
      res = await fetch(`${apiUrl()}/api/v1/jobs`, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: "stories260K", prompt, max_tokens: 64 }),
      });
    } catch (e) {
      return { prompt, id: null, outcome: "refused", text: null, detail: `fetch: ${(e as Error).message}` };
    }
    const body = (await res.json().catch(() => ({}))) as JobView & { error?: { code?: string } };
    if (res.status !== 202 || !body.id)
      return { prompt, id: null, outcome: "refused", text: null, detail: `${res.status} ${body.error?.code ?? ""}` };
    const id = body.id;
    const end = Date.now() + giveUpMs;
    let last = "202";
    while (Date.now() < end) {
      await Bun.sleep(pollMs);
      try {
        const r = await fetch(`${apiUrl()}/api/v1/jobs/${id}`, { headers });
        const job = (await r.json()) as JobView;
        last = `${r.status} ${job.status ?? ""}`;
        if (r.status !== 200) continue; // 5xx while the database is away: ask again
        if (job.status === "completed") {
          const text = job.result?.text ?? null;
          return { prompt, id, outcome: classify(prompt, text), text, detail: last };
        }
        if (job.status === "failed" || job.status === "dead" || job.status === "cancelled")
          return { prompt, id, outcome: "failed", text: null, detail: `${job.status} ${job.error?.code ?? ""}` };
      } catch (e) {
        last = `fetch: ${(e as Error).message}`;
      }
    }
    return { prompt, id, outcome: "unknown", text: null, detail: `gave up polling: ${last}` };
  };
}

/** `concurrency` clients submit jobs until `more()` is false; returns every record. */
export async function runClients(submit: Submit, concurrency: number, more: (sent: number) => boolean): Promise<ClientRecord[]> {
  const records: ClientRecord[] = [];
  let sent = 0;
  const one = async () => {
    while (more(sent)) {
      const prompt = `soak job ${sent++} ${Math.random().toString(36).slice(2, 8)}`;
      const r = await submit(prompt);
      records.push(r);
      // a refused submission (coordinator away) is not a job: back off a little before the next
      if (r.outcome === "refused") await Bun.sleep(100);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  return records;
}

/** The soak's model, priced so that completions move credits, and an API key for the clients. */
export async function pricedModelKey(repo: Repository): Promise<string> {
  await addModel(repo);
  await repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 1_000_000, promptMicrosPer1k: 0 });
  return await apiKey(repo);
}

/**
 * Clients submit while `fault` runs `plan.faults` times, one after another, and go on until
 * `plan.minJobs` were sent; each fault's figures and failures go into `into` (a fault that throws
 * ends the loop as a "chaos:" failure). Returns every client record.
 */
export async function underFaults(
  plan: { name: string; faults: number; concurrency: number; minJobs: number },
  log: (line: string) => void,
  submit: Submit,
  fault: (i: number) => Promise<FaultResult>,
  into: FaultResult,
): Promise<ClientRecord[]> {
  let chaosDone = false;
  const chaos = (async () => {
    try {
      for (let i = 0; i < plan.faults; i++) {
        const r = await fault(i);
        mergeFigures(into.figures, r.figures);
        into.failures.push(...r.failures);
        log(`${plan.name}: fault ${i + 1}/${plan.faults} done`);
      }
    } catch (e) {
      into.failures.push(`chaos: ${(e as Error).message}`);
    } finally {
      chaosDone = true;
    }
  })();
  const records = await runClients(submit, plan.concurrency, (sent) => !chaosDone || sent < plan.minJobs);
  await chaos;
  return records;
}

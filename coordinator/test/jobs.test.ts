// Jobs end to end with the official openai client and simulated workers, on SQLite and Postgres.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import postgres from "postgres";
import { openSqliteRepository } from "../src/db/sqlite-repository.ts";
import { completedJob, newJob } from "../src/db/suite/context.ts";
import { type FreshPostgres, freshPostgresUrl, postgresTestsDisabled } from "../src/db/testing.ts";
import { reconcileCredits } from "../src/earnings/reconcile.ts";
import { parseExposition, value } from "../src/metrics/test-support.ts";
import { addModel, apiKey, enrolmentToken, start, until } from "./harness.ts";
import { type Behaviour, enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(60_000);

/** The simulated model: a deterministic function of the prompt. */
const reply = (prompt: string) => `echo: ${prompt.split("").reverse().join("")} — the end.`;
const answer: Behaviour = { kind: "answer", text: (j) => reply(j.prompt ?? j.messages?.at(-1)?.content ?? "") };

const dialects = ["sqlite", "postgres"] as const;
const pgOff = postgresTestsDisabled();
if (pgOff) console.log(`jobs.test.ts: Postgres tests disabled: ${pgOff}`);

for (const dialect of dialects) {
  if (dialect === "postgres" && pgOff) continue;
  describe(`jobs (${dialect})`, () => {
    let c: Awaited<ReturnType<typeof start>>;
    let pg: FreshPostgres | null = null;
    let client: OpenAI;
    const workers: SimWorker[] = [];

    async function worker(behaviour: Behaviour = answer, capacity = 1): Promise<SimWorker> {
      const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), behaviour, { capacity });
      if (!(await w.connect())) throw new Error("simulated worker could not connect");
      workers.push(w);
      return w;
    }

    beforeAll(async () => {
      pg = dialect === "postgres" ? await freshPostgresUrl() : null;
      c = await start(pg ? { databaseUrl: pg.url } : {});
      await addModel(c.repo);
      client = new OpenAI({ baseURL: `${c.apiUrl}/v1`, apiKey: await apiKey(c.repo), maxRetries: 0 });
    });
    afterAll(async () => {
      for (const w of workers) w.close();
      await c.cleanup();
      await pg?.drop();
    });

    test("no worker online: 503 with Retry-After", async () => {
      const err = await client.completions.create({ model: "stories260K", prompt: "x" }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(503);
      expect(err.headers.get("retry-after")).toBe("30");
      expect(err.error?.code ?? err.code).toBe("no_capacity");
    });

    test("models, completion and chat, streaming and not", async () => {
      await worker();
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toEqual(["stories260K"]);

      const completion = await client.completions.create({ model: "stories260K", prompt: "Once upon", max_tokens: 20, temperature: 0 });
      expect(completion.choices[0]?.text).toBe(reply("Once upon"));
      expect(completion.choices[0]?.finish_reason).toBe("stop");
      expect(completion.usage?.prompt_tokens).toBe(9);

      const chat = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "hello" }] });
      expect(chat.choices[0]?.message.content).toBe(reply("hello"));

      let streamed = "";
      const stream = await client.completions.create({ model: "stories260K", prompt: "abc", stream: true });
      for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? "";
      expect(streamed).toBe(reply("abc"));

      let chatStreamed = "";
      const cs = await client.chat.completions.create({
        model: "stories260K",
        messages: [{ role: "user", content: "xyz" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage = 0;
      for await (const chunk of cs) {
        chatStreamed += chunk.choices[0]?.delta.content ?? "";
        if (chunk.usage) usage = chunk.usage.total_tokens;
      }
      expect(chatStreamed).toBe(reply("xyz"));
      expect(usage).toBeGreaterThan(0);
      const done = await c.repo.listJobs({ status: ["completed"] });
      expect(done.length).toBe(4);
    });

    test("a completed job is credited once at the model's price; the worker hears it in heartbeat_ack", async () => {
      for (const w of workers.splice(0)) w.close();
      await until(() => c.gateway.slots().length === 0, 5000, "old workers gone");
      await c.repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 2_000_000, promptMicrosPer1k: 0 }); // 2.00 per 1000 tokens
      const w = await worker();
      const r = await client.completions.create({ model: "stories260K", prompt: "pay me", max_tokens: 16 });
      const job = await c.repo.getJob(w.assignments[0]?.job_id as string);
      const tokens = job?.completionTokens as number;
      expect(r.usage?.completion_tokens).toBe(tokens);
      const totals = await c.repo.ledgerTotals({ nodeId: w.id.nodeId });
      expect(totals).toMatchObject({ jobs: 1, completionTokens: tokens, amountMicros: Math.floor((tokens * 2_000_000) / 1000) });
      w.send({
        type: "heartbeat",
        status: "idle",
        stats: {
          cpu_percent: 1,
          memory_percent: 1,
          jobs_running: 0,
          jobs_completed: 1,
          tokens_generated: tokens,
          throttled_requests: 0,
          uptime_secs: 1,
        },
      });
      await until(() => w.received.some((m) => m.type === "heartbeat_ack"), 3000, "heartbeat_ack");
      const ack = w.received.find((m) => m.type === "heartbeat_ack") as { earnings: { today: string; total: string } };
      expect(Number(ack.earnings.today)).toBeCloseTo((tokens * 2) / 1000, 6);
      expect(ack.earnings.total).toBe(ack.earnings.today);
      await c.repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 0, promptMicrosPer1k: 0 });
    });

    test("a price that cannot be read: the client still gets its answer, the job is completed and the reconciler credits it", async () => {
      await c.repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 1_000_000, promptMicrosPer1k: 0 });
      const getPrice = c.repo.getPrice.bind(c.repo);
      let failed = 0;
      c.repo.getPrice = async (modelId) => {
        if (failed++ === 0) throw new Error("the database went away");
        return getPrice(modelId);
      };
      try {
        const w = await worker();
        const r = await client.completions.create({ model: "stories260K", prompt: "pay me later", max_tokens: 8 });
        const jobId = w.assignments.at(-1)?.job_id as string;
        expect(r.choices[0]?.text.length).toBeGreaterThan(0);
        expect((await c.repo.getJob(jobId))?.status).toBe("completed");
        expect((await c.repo.listLedger({})).some((e) => e.jobId === jobId)).toBe(false);
        expect(await reconcileCredits(c.repo, Date.now(), { settleMs: 0 })).toBe(1);
        const entry = (await c.repo.listLedger({})).find((e) => e.jobId === jobId);
        expect(entry).toMatchObject({
          nodeId: w.id.nodeId,
          amountMicros: Math.floor(((r.usage?.completion_tokens ?? 0) * 1_000_000) / 1000),
        });
      } finally {
        c.repo.getPrice = getPrice;
        await c.repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 0, promptMicrosPer1k: 0 });
      }
    });

    test("/metrics after jobs: outcomes, tokens, queue wait, workers by state; /openapi/json documents the API", async () => {
      const e = parseExposition(await (await fetch(`${c.apiUrl}/metrics`)).text());
      expect(value(e, "gogrid_jobs_total", { outcome: "completed" })).toBeGreaterThanOrEqual(4);
      expect(value(e, "gogrid_jobs_total", { outcome: "rejected" })).toBeGreaterThanOrEqual(1); // the 503 with no worker
      expect(value(e, "gogrid_tokens_total", { kind: "completion" })).toBeGreaterThan(0);
      expect(value(e, "gogrid_queue_wait_seconds_count")).toBeGreaterThanOrEqual(4);
      expect(value(e, "gogrid_time_to_first_token_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(value(e, "gogrid_workers", { state: "idle" })).toBeGreaterThanOrEqual(1);
      expect(value(e, "gogrid_queue_depth")).toBe(0);
      expect(value(e, "gogrid_http_requests_total", { route: "/v1/completions", status: "200" })).toBeGreaterThanOrEqual(1);
      const doc = (await (await fetch(`${c.apiUrl}/openapi/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(["/v1/models", "/v1/completions", "/v1/chat/completions", "/api/v1/jobs"]),
      );
    });

    test("errors reach the openai client as OpenAI errors", async () => {
      const unknown = await client.completions.create({ model: "nope", prompt: "x" }).catch((e) => e);
      expect(unknown.status).toBe(404);
      const bad = await client.completions.create({ model: "stories260K", prompt: "x", max_tokens: 10_000_000 }).catch((e) => e);
      expect(bad.status).toBe(400);
      expect(bad.param).toBe("max_tokens");
    });

    test("a worker dropped mid-job: the job runs again elsewhere and the client gets one answer; the late result is refused", async () => {
      for (const w of workers.splice(0)) w.close();
      await until(() => c.gateway.slots().length === 0, 5000, "old workers gone");
      const dropper = await worker({ kind: "drop", text: answer.text, afterChunks: 3 });
      const stream = await client.completions.create({ model: "stories260K", prompt: "retry me", stream: true });
      let text = "";
      const reading = (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
      })();
      await dropper.closed;
      const rescuer = await worker();
      await reading;
      expect(text).toBe(reply("retry me"));
      const job = (await c.repo.listJobs({ status: ["completed"] })).find((j) => j.resultText === reply("retry me"));
      expect(job?.attempts).toBe(2);
      const attempts = await c.repo.listAttempts(job?.id as string);
      expect(attempts.map((a) => [a.workerId, a.outcome])).toEqual([
        [dropper.id.nodeId, "failed"],
        [rescuer.id.nodeId, "completed"],
      ]);
      // the first worker comes back and sends its old result: fenced out
      const late = job
        ? await c.repo.completeJob(
            job.id,
            attempts[0]?.fence as string,
            { text: "stale", finishReason: "stop", promptTokens: 1, completionTokens: 1 },
            Date.now(),
          )
        : "no job";
      expect(late).toBeNull();
      expect((await c.repo.getJob(job?.id as string))?.resultText).toBe(reply("retry me"));
    });

    test("native job API: queue, poll, cancel; another key sees nothing", async () => {
      for (const w of workers.splice(0)) w.close();
      await until(() => c.gateway.slots().length === 0, 5000, "old workers gone");
      const key = await apiKey(c.repo);
      const call = (method: string, path: string, body?: unknown, k = key) =>
        fetch(`${c.apiUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${k}`, "content-type": "application/json" },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      const hanger = await worker({ kind: "hang" });
      const queued = await call("POST", "/api/v1/jobs", { model: "stories260K", prompt: "later", max_tokens: 5, priority: 90 });
      expect(queued.status).toBe(202);
      const job = (await queued.json()) as { id: string; status: string; priority: number };
      expect(job.priority).toBe(90);
      await until(() => hanger.assignments.length === 1, 5000, "assignment");
      const running = (await (await call("GET", `/api/v1/jobs/${job.id}`)).json()) as { status: string; attempts: number };
      expect(running).toMatchObject({ status: "running", attempts: 1 });
      expect((await call("GET", `/api/v1/jobs/${job.id}`, undefined, await apiKey(c.repo))).status).toBe(404);
      const cancelled = await call("DELETE", `/api/v1/jobs/${job.id}`);
      expect(((await cancelled.json()) as { status: string }).status).toBe("cancelled");
      await until(() => hanger.received.some((m) => m.type === "job_cancel"), 5000, "job_cancel");
      expect((await call("DELETE", `/api/v1/jobs/${job.id}`)).status).toBe(409);
      hanger.close();

      const answerer = await worker();
      const second = (await (
        await call("POST", "/api/v1/jobs", { model: "stories260K", messages: [{ role: "user", content: "poll" }] })
      ).json()) as { id: string };
      let done: { status: string; result: { text: string } | null } = { status: "queued", result: null };
      await until(
        async () => {
          done = (await (await call("GET", `/api/v1/jobs/${second.id}`)).json()) as typeof done;
          return done.status === "completed";
        },
        5000,
        "completion",
      );
      expect(done.result?.text).toBe(reply("poll"));
      answerer.close();
    });

    test("a client that disconnects cancels its job on the worker", async () => {
      for (const w of workers.splice(0)) w.close();
      await until(() => c.gateway.slots().length === 0, 5000, "old workers gone");
      const hanger = await worker({ kind: "hang" });
      const ac = new AbortController();
      const pending = client.completions.create({ model: "stories260K", prompt: "never" }, { signal: ac.signal }).catch((e) => e);
      await until(() => hanger.assignments.length === 1, 5000, "assignment");
      ac.abort();
      await pending;
      await until(() => hanger.received.some((m) => m.type === "job_cancel"), 5000, "job_cancel");
      const job = await c.repo.getJob(hanger.assignments[0]?.job_id as string);
      expect(job?.status).toBe("cancelled");
      hanger.close();
    });
  });
}

describe("job retention", () => {
  test("at start, finished jobs older than jobs.retention_days are deleted; newer and unfinished ones stay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gogrid-retention-"));
    const file = join(dir, "gogrid.db");
    const day = 24 * 3_600_000;
    const seed = openSqliteRepository(file);
    for (const [id, endedAt] of [
      ["ended-40-days-ago", Date.now() - 40 * day],
      ["ended-2-days-ago", Date.now() - 2 * day],
    ] as const) {
      await completedJob(seed, id, endedAt - 1_000, endedAt);
    }
    await seed.enqueueJob(newJob("queued-40-days-ago", Date.now() - 40 * day));
    await seed.close();
    const c = await start({ databaseUrl: `sqlite:${file}`, retentionDays: 7 });
    try {
      await until(async () => (await c.repo.getJob("ended-40-days-ago")) === null, 5000, "the old job deleted");
      expect((await c.repo.listJobs()).map((j) => j.id).sort()).toEqual(["ended-2-days-ago", "queued-40-days-ago"]);
    } finally {
      await c.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("timeouts and dead letters", () => {
  test("an attempt past its time limit is cancelled and retried; out of attempts, the job is dead and the client told why", async () => {
    const c = await start({ jobTimeoutSecs: 1, maxAttempts: 2 });
    try {
      await addModel(c.repo);
      const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), { kind: "hang" });
      expect(await w.connect()).toBe(true);
      const client = new OpenAI({ baseURL: `${c.apiUrl}/v1`, apiKey: await apiKey(c.repo), maxRetries: 0 });
      const err = await client.completions.create({ model: "stories260K", prompt: "slow" }).catch((e) => e);
      expect(err.status).toBe(502);
      expect(err.code ?? err.error?.code).toBe("timeout");
      expect(w.assignments.length).toBe(2);
      await until(() => w.received.filter((m) => m.type === "job_cancel").length === 2, 5000, "second job_cancel");
      expect(w.received.filter((m) => m.type === "job_cancel").map((m) => (m as { reason: string }).reason)).toEqual([
        "timeout",
        "timeout",
      ]);
      const job = await c.repo.getJob(w.assignments[0]?.job_id as string);
      expect(job?.status).toBe("dead");
      w.close();
    } finally {
      await c.cleanup();
    }
  });
});

describe.if(!pgOff)("two coordinator instances on one Postgres", () => {
  test("a job submitted to A runs on a worker connected to B and streams back to A's client", async () => {
    const pg = await freshPostgresUrl();
    const a = await start({ databaseUrl: pg.url });
    const b = await start({ databaseUrl: pg.url });
    try {
      await addModel(a.repo);
      const w = new SimWorker(await enrol(b.apiUrl, await enrolmentToken(b.repo)), answer);
      expect(await w.connect()).toBe(true);
      expect(a.gateway.slots()).toEqual([]);
      const client = new OpenAI({ baseURL: `${a.apiUrl}/v1`, apiKey: await apiKey(a.repo), maxRetries: 0 });
      let text = "";
      for await (const chunk of await client.completions.create({ model: "stories260K", prompt: "across", stream: true }))
        text += chunk.choices[0]?.text ?? "";
      expect(text).toBe(reply("across"));
      expect(w.assignments.length).toBe(1);
      const job = await a.repo.getJob(w.assignments[0]?.job_id as string);
      expect(job?.originInstance).toBe(a.instanceId);
      // a command published on A reaches the worker whose socket is on B
      await a.pushToWorkers(w.id.nodeId, { type: "command", action: "resume" });
      await until(() => w.received.some((m) => m.type === "command"), 3000, "command via B");
      w.close();
    } finally {
      await a.cleanup();
      await b.cleanup();
      await pg.drop();
    }
  });

  test("a job submitted to A and run on A's worker finishes without a NOTIFY: B hears only that work is available", async () => {
    const pg = await freshPostgresUrl();
    const a = await start({ databaseUrl: pg.url });
    const b = await start({ databaseUrl: pg.url });
    const spy = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const heard: { kind: string; jobId?: string }[] = [];
      await spy.listen("gogrid_events", (payload) => heard.push(...(JSON.parse(payload) as { e: { kind: string; jobId?: string }[] }).e));
      await addModel(a.repo);
      const w = new SimWorker(await enrol(a.apiUrl, await enrolmentToken(a.repo)), answer);
      expect(await w.connect()).toBe(true);
      const client = new OpenAI({ baseURL: `${a.apiUrl}/v1`, apiKey: await apiKey(a.repo), maxRetries: 0 });
      for (const prompt of ["one", "two", "three"]) {
        const done = await client.completions.create({ model: "stories260K", prompt });
        expect(done.choices[0]?.text).toBe(reply(prompt));
      }
      expect(w.assignments.length).toBe(3);
      await until(() => heard.filter((e) => e.kind === "job_available").length >= 3, 3000, "job_available NOTIFYs");
      expect(heard.filter((e) => e.kind === "job_finished" || e.kind === "job_event")).toEqual([]);
      w.close();
    } finally {
      await spy.end({ timeout: 5 });
      await a.cleanup();
      await b.cleanup();
      await pg.drop();
    }
  });
});

// Handlers through app.handle(new Request(...)): validation, auth, shapes, streaming, errors.
import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import type { ApiKeyRow, Repository } from "../../db/repository.ts";
import { type JobOutcome, JobRejectedError, type JobSubmitter, type SubmitInput, type SubmittedJob } from "../../jobs/types.ts";
import { errorHandling } from "../app.ts";
import { hashSecret, newApiKey } from "../auth.ts";
import { openAiRoutes } from "./index.ts";

const { secret, row } = newApiKey("test");
const revoked = newApiKey("old");
const keys: ApiKeyRow[] = [
  { ...row, revokedAt: null, promptTokens: 0, completionTokens: 0, costMicros: 0 },
  { ...revoked.row, revokedAt: 1, promptTokens: 0, completionTokens: 0, costMicros: 0 },
];
// Only the lookup the handlers use; storage itself is tested in db/.
const repo = { findApiKeyByHash: async (h: string) => keys.find((k) => k.keyHash === h) ?? null } as unknown as Repository;

/** A job system that answers from a script: chunks, then an outcome. */
class ScriptedJobs implements JobSubmitter {
  submitted: SubmitInput[] = [];
  cancelled: string[] = [];
  reject: JobRejectedError | null = null;
  constructor(
    private chunks: string[],
    private outcome: Partial<JobOutcome> = {},
  ) {}
  async submit(input: SubmitInput): Promise<SubmittedJob> {
    if (this.reject) throw this.reject;
    this.submitted.push(input);
    const id = `job${this.submitted.length}`;
    const chunks = this.chunks;
    const outcome: JobOutcome = {
      status: "completed",
      text: chunks.join(""),
      finishReason: "stop",
      promptTokens: 5,
      completionTokens: chunks.length,
      error: null,
      ...this.outcome,
    };
    return {
      id,
      async *stream() {
        for (const c of chunks) yield c;
      },
      result: Promise.resolve(outcome),
      cancel: async (reason) => {
        this.cancelled.push(`${id}: ${reason}`);
      },
    };
  }
  async models() {
    return [{ id: "stories260K", created: 1700000000, available: true }];
  }
}

function app(jobs: JobSubmitter) {
  return new Elysia().use(errorHandling(() => {})).use(openAiRoutes({ repo, jobs, limits: { maxPromptChars: 1000, maxTokens: 256 } }));
}

function post(path: string, body: unknown, key = secret): Request {
  return new Request(`http://test${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

// biome-ignore lint/suspicious/noExplicitAny: response JSON is checked field by field below
const json = (res: Response): Promise<any> => res.json();

async function sseEvents(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ""));
}

describe("auth", () => {
  test("missing, wrong and revoked keys get 401 with an OpenAI error body", async () => {
    const a = app(new ScriptedJobs(["x"]));
    for (const req of [
      new Request("http://test/v1/models"),
      new Request("http://test/v1/models", { headers: { authorization: "Bearer gg-wrong" } }),
      new Request("http://test/v1/models", { headers: { authorization: `Bearer ${revoked.secret}` } }),
    ]) {
      const res = await a.handle(req);
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body.error.type).toBe("authentication_error");
      expect(body.error.code).toBe("invalid_api_key");
    }
    expect(hashSecret(secret)).toBe(row.keyHash);
  });
});

describe("/v1/completions", () => {
  test("non-streaming: the job's text, finish reason and usage", async () => {
    const jobs = new ScriptedJobs(["Hello", " world"]);
    const res = await app(jobs).handle(post("/v1/completions", { model: "stories260K", prompt: "Once", max_tokens: 10, temperature: 0 }));
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      object: "text_completion",
      model: "stories260K",
      choices: [{ text: "Hello world", index: 0, finish_reason: "stop" }],
    });
    expect(body.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    expect(jobs.submitted[0]?.request).toMatchObject({
      kind: "completion",
      prompt: "Once",
      params: { max_tokens: 10, temperature: 0, stop: [] },
    });
  });

  test("streaming: chunks as OpenAI sends them, then [DONE]", async () => {
    const res = await app(new ScriptedJobs(["Hel", "lo"])).handle(
      post("/v1/completions", { model: "stories260K", prompt: "x", stream: true, stream_options: { include_usage: true } }),
    );
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe("[DONE]");
    const objs = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(objs.map((o) => o.choices[0]?.text ?? null)).toEqual(["Hel", "lo", "", null]);
    expect(objs[2].choices[0].finish_reason).toBe("stop");
    expect(objs[3].usage.total_tokens).toBe(7);
  });

  test("bad requests are 400 naming the field", async () => {
    const a = app(new ScriptedJobs(["x"]));
    const cases: [unknown, string | null, RegExp][] = [
      [{ prompt: "x" }, "model", /required/],
      [{ model: "m", prompt: "x", max_tokens: 0 }, "max_tokens", /max_tokens/],
      [{ model: "m", prompt: "x", max_tokens: 100000 }, "max_tokens", /limit of 256/],
      [{ model: "m", prompt: "x", temperature: 5 }, "temperature", /temperature/],
      [{ model: "m", prompt: "x".repeat(2000) }, "prompt", /limit of 1000/],
      [{ model: "m", prompt: "x", tools: [] }, "tools", /unrecognized request argument/],
      ["{not json", null, /not valid JSON/],
    ];
    for (const [body, param, message] of cases) {
      const res = await a.handle(post("/v1/completions", body));
      expect(res.status).toBe(400);
      const err = (await json(res)).error;
      expect(err.type).toBe("invalid_request_error");
      expect(err.param).toBe(param);
      expect(err.message).toMatch(message);
    }
  });

  test("an unknown model is 404; no capacity and a full queue are 503 with Retry-After", async () => {
    const jobs = new ScriptedJobs(["x"]);
    jobs.reject = new JobRejectedError("model_not_found", "The model 'nope' does not exist");
    let res = await app(jobs).handle(post("/v1/completions", { model: "nope", prompt: "x" }));
    expect(res.status).toBe(404);
    expect((await json(res)).error).toMatchObject({ code: "model_not_found", param: "model" });
    jobs.reject = new JobRejectedError("queue_full", "the queue is full", 7);
    res = await app(jobs).handle(post("/v1/completions", { model: "stories260K", prompt: "x" }));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("7");
    expect((await json(res)).error.code).toBe("queue_full");
  });

  test("a job that failed on every attempt is a 502 with its reason", async () => {
    const jobs = new ScriptedJobs([], {
      status: "failed",
      error: { code: "worker_lost", message: "3 workers vanished" },
      finishReason: null,
    });
    const res = await app(jobs).handle(post("/v1/completions", { model: "stories260K", prompt: "x" }));
    expect(res.status).toBe(502);
    expect((await json(res)).error).toMatchObject({ code: "worker_lost", type: "server_error" });
  });
});

describe("/v1/chat/completions", () => {
  test("non-streaming and streaming shapes", async () => {
    const jobs = new ScriptedJobs(["Hi", "!"]);
    const res = await app(jobs).handle(
      post("/v1/chat/completions", {
        model: "stories260K",
        messages: [
          { role: "developer", content: "be brief" },
          { role: "user", content: [{ type: "text", text: "hello" }] },
        ],
      }),
    );
    const body = await json(res);
    expect(body).toMatchObject({
      object: "chat.completion",
      choices: [{ message: { role: "assistant", content: "Hi!" }, finish_reason: "stop" }],
    });
    expect(jobs.submitted[0]?.request.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "hello" },
    ]);
    const s = await app(jobs).handle(
      post("/v1/chat/completions", { model: "stories260K", messages: [{ role: "user", content: "x" }], stream: true }),
    );
    const objs = (await sseEvents(s)).slice(0, -1).map((e) => JSON.parse(e));
    expect(objs.map((o) => o.object)).toEqual(Array(4).fill("chat.completion.chunk"));
    expect(objs.map((o) => o.choices[0].delta)).toEqual([{ role: "assistant", content: "" }, { content: "Hi" }, { content: "!" }, {}]);
    expect(objs[3].choices[0].finish_reason).toBe("stop");
  });

  test("an empty conversation is refused", async () => {
    const res = await app(new ScriptedJobs(["x"])).handle(post("/v1/chat/completions", { model: "m", messages: [] }));
    expect(res.status).toBe(400);
    expect((await json(res)).error.param).toBe("messages");
  });
});

describe("/v1/models", () => {
  test("lists the models", async () => {
    const res = await app(new ScriptedJobs(["x"])).handle(
      new Request("http://test/v1/models", { headers: { authorization: `Bearer ${secret}` } }),
    );
    expect(await json(res)).toEqual({
      object: "list",
      data: [{ id: "stories260K", object: "model", created: 1700000000, owned_by: "gogrid", available: true }],
    });
  });

  test("an unknown route is an OpenAI-shaped 404", async () => {
    const res = await app(new ScriptedJobs(["x"])).handle(new Request("http://test/v1/nothing"));
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe("unknown_url");
  });
});

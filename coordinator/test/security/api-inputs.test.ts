// Bad OpenAI API input through the real listener: each case its specific 4xx and an OpenAI-shaped error naming the problem.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { addModel, apiKey, start } from "../harness.ts";

setDefaultTimeout(60_000);

const MAX_PROMPT_CHARS = 10_000;
const MAX_TOKENS = 512;
/** bodyLimit() for these limits: a maximal prompt escaped as \uXXXX, plus 1 MiB. */
const BODY_CAP = MAX_PROMPT_CHARS * 6 + 1024 * 1024;

let c: Awaited<ReturnType<typeof start>>;
let key: string;
beforeAll(async () => {
  c = await start({ maxPromptChars: MAX_PROMPT_CHARS, maxTokens: MAX_TOKENS });
  await addModel(c.repo);
  key = await apiKey(c.repo);
});
afterAll(async () => {
  await c.cleanup();
});

interface Case {
  name: string;
  path?: string;
  /** An object is sent as JSON; a string as it is. */
  body: unknown;
  /** Authorization header: the test's key by default, null for none. */
  auth?: string | null;
  status: number;
  type: string;
  code: string;
  param: string | null;
  message: RegExp;
}

const M = "stories260K";
const user = [{ role: "user", content: "hi" }];

const CASES: Case[] = [
  // size
  {
    name: "prompt over the limit",
    body: { model: M, prompt: "x".repeat(MAX_PROMPT_CHARS + 1) },
    status: 400,
    type: "invalid_request_error",
    code: "prompt_too_long",
    param: "prompt",
    message: new RegExp(`${MAX_PROMPT_CHARS + 1} characters, above this server's limit of ${MAX_PROMPT_CHARS}`),
  },
  {
    name: "chat messages over the limit together",
    path: "/v1/chat/completions",
    body: { model: M, messages: [user[0], { role: "user", content: "y".repeat(MAX_PROMPT_CHARS) }] },
    status: 400,
    type: "invalid_request_error",
    code: "prompt_too_long",
    param: "messages",
    message: /above this server's limit of 10000/,
  },
  {
    name: "huge body (beyond any prompt the limit allows): 413",
    body: { model: M, prompt: "x".repeat(BODY_CAP + 1) },
    status: 413,
    type: "invalid_request_error",
    code: "request_too_large",
    param: null,
    message: new RegExp(`at most ${BODY_CAP.toLocaleString("en-US")} bytes`),
  },
  // syntax
  {
    name: "bad JSON",
    body: '{"model": "m", "prompt": ',
    status: 400,
    type: "invalid_request_error",
    code: "invalid_json",
    param: null,
    message: /not valid JSON/,
  },
  { name: "empty body", body: "", status: 400, type: "invalid_request_error", code: "invalid_json", param: null, message: /empty/ },
  {
    name: "a JSON array",
    body: "[1]",
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: null,
    message: /must be a JSON object/,
  },
  // model
  {
    name: "unknown model",
    body: { model: "no-such-model", prompt: "x" },
    status: 404,
    type: "not_found_error",
    code: "model_not_found",
    param: "model",
    message: /no-such-model/,
  },
  {
    name: "missing model",
    body: { prompt: "x" },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "model",
    message: /'model' is a required property/,
  },
  {
    name: "model as a number",
    body: { model: 7, prompt: "x" },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "model",
    message: /7; expected a string/,
  },
  // max_tokens
  {
    name: "negative max_tokens",
    body: { model: M, prompt: "x", max_tokens: -5 },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "max_tokens",
    message: /'max_tokens': -5; expected an integer >= 1/,
  },
  {
    name: "fractional max_tokens",
    body: { model: M, prompt: "x", max_tokens: 1.5 },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "max_tokens",
    message: /1\.5; expected an integer/,
  },
  {
    name: "huge max_tokens",
    body: { model: M, prompt: "x", max_tokens: 1_000_000_000 },
    status: 400,
    type: "invalid_request_error",
    code: "max_tokens_too_large",
    param: "max_tokens",
    message: /1000000000, above this server's limit of 512/,
  },
  {
    name: "huge max_completion_tokens (chat)",
    path: "/v1/chat/completions",
    body: { model: M, messages: user, max_completion_tokens: 100_000 },
    status: 400,
    type: "invalid_request_error",
    code: "max_tokens_too_large",
    param: "max_completion_tokens",
    message: /limit of 512/,
  },
  // wrong types
  {
    name: "prompt as a number",
    body: { model: M, prompt: 42 },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "prompt",
    message: /'prompt': 42; expected a string or an array/,
  },
  {
    name: "temperature as a string",
    body: { model: M, prompt: "x", temperature: "hot" },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "temperature",
    message: /"hot"; expected a number >= 0 and <= 2/,
  },
  {
    name: "messages not an array",
    path: "/v1/chat/completions",
    body: { model: M, messages: "hello" },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "messages",
    message: /"hello"; expected an array of 1 to 1024 objects/,
  },
  {
    name: "a message with an unknown role",
    path: "/v1/chat/completions",
    body: { model: M, messages: [{ role: "robot", content: "x" }] },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "messages.0.role",
    message: /"robot"; expected one of "system", "developer", "user", "assistant"/,
  },
  {
    name: "stream_options.include_usage as a string",
    path: "/v1/chat/completions",
    body: { model: M, messages: user, stream: true, stream_options: { include_usage: "yes" } },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "stream_options.include_usage",
    message: /expected true or false/,
  },
  // shape
  {
    name: "unknown top-level field",
    body: { model: M, prompt: "x", foo: 1 },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "foo",
    message: /unrecognized request argument supplied: foo/,
  },
  {
    name: "unknown field inside a message",
    path: "/v1/chat/completions",
    body: { model: M, messages: [{ role: "user", content: "x", mood: "happy" }] },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "messages.0.mood",
    message: /unrecognized argument 'messages\.0\.mood'/,
  },
  {
    name: "empty messages",
    path: "/v1/chat/completions",
    body: { model: M, messages: [] },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "messages",
    message: /\[\]; expected an array of 1 to 1024/,
  },
  // auth
  {
    name: "bad bearer key",
    body: { model: M, prompt: "x" },
    auth: "Bearer gg-not-a-key",
    status: 401,
    type: "authentication_error",
    code: "invalid_api_key",
    param: null,
    message: /Incorrect API key/,
  },
  {
    name: "no Authorization header",
    body: { model: M, prompt: "x" },
    auth: null,
    status: 401,
    type: "authentication_error",
    code: "invalid_api_key",
    param: null,
    message: /didn't provide an API key/,
  },
  {
    name: "Basic instead of Bearer",
    body: { model: M, prompt: "x" },
    auth: "Basic dXNlcjpwYXNz",
    status: 401,
    type: "authentication_error",
    code: "invalid_api_key",
    param: null,
    message: /Bearer/,
  },
  {
    name: "bad key with a huge body: 401 before the body is read",
    body: { model: M, prompt: "x".repeat(BODY_CAP + 1) },
    auth: "Bearer gg-not-a-key",
    status: 401,
    type: "authentication_error",
    code: "invalid_api_key",
    param: null,
    message: /Incorrect API key/,
  },
  // the native job API shares the validation
  {
    name: "native jobs API: negative max_tokens",
    path: "/api/v1/jobs",
    body: { model: M, prompt: "x", max_tokens: -1 },
    status: 400,
    type: "invalid_request_error",
    code: "invalid_request",
    param: "max_tokens",
    message: /-1; expected an integer >= 1/,
  },
  {
    name: "native jobs API: huge body",
    path: "/api/v1/jobs",
    body: { model: M, prompt: "x".repeat(BODY_CAP + 1) },
    status: 413,
    type: "invalid_request_error",
    code: "request_too_large",
    param: null,
    message: /at most/,
  },
];

describe("bad OpenAI API input → specific 4xx with an OpenAI-shaped error", () => {
  for (const k of CASES) {
    test(k.name, async () => {
      const auth = k.auth === undefined ? `Bearer ${key}` : k.auth;
      const res = await fetch(`${c.apiUrl}${k.path ?? "/v1/completions"}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth === null ? {} : { authorization: auth }) },
        body: typeof k.body === "string" ? k.body : JSON.stringify(k.body),
      });
      expect(res.headers.get("content-type") ?? "").toContain("application/json");
      const body = (await res.json()) as { error: Record<string, unknown> };
      const { message: _m, ...rest } = body.error;
      expect({ status: res.status, ...rest } as Record<string, unknown>).toEqual({
        status: k.status,
        type: k.type,
        code: k.code,
        param: k.param,
      });
      expect(Object.keys(body).sort()).toEqual(["error"]);
      expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
      expect(String(body.error.message)).toMatch(k.message);
    });
  }

  test("no bad request reached the queue", async () => {
    expect(await c.repo.countJobs("queued")).toBe(0);
    expect((await c.repo.listJobs({})).length).toBe(0);
  });
});

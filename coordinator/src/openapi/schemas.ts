// Component schemas of the client API document: request bodies from the API's own models, responses here.
import { Type as T } from "@sinclair/typebox";
import { ChatRequest, CompletionRequest } from "../api/openai/model.ts";
import { Nullable } from "../api/typebox.ts";

/** A reference to another component schema, as OpenAPI writes it. */
export const ref = (name: string) => T.Unsafe<unknown>({ $ref: `#/components/schemas/${name}` });

export const ErrorBody = T.Object(
  {
    error: T.Object({
      message: T.String({ description: "What went wrong and what to do about it." }),
      type: T.Union(
        ["invalid_request_error", "authentication_error", "permission_error", "not_found_error", "rate_limit_error", "server_error"].map(
          (t) => T.Literal(t),
        ),
      ),
      param: Nullable(T.String({ description: "The request field at fault, when there is one." })),
      code: T.String({ description: "A stable snake_case code, e.g. invalid_api_key, model_not_found, queue_full." }),
    }),
  },
  { description: "OpenAI-shaped error body, returned with every 4xx and 5xx status." },
);

const FinishReason = T.Union([T.Literal("stop"), T.Literal("length"), T.Literal("cancelled")]);

export const Usage = T.Object({
  prompt_tokens: T.Integer({ minimum: 0 }),
  completion_tokens: T.Integer({ minimum: 0 }),
  total_tokens: T.Integer({ minimum: 0 }),
});

export const Model = T.Object({
  id: T.String(),
  object: T.Literal("model"),
  created: T.Integer({ description: "Unix seconds." }),
  owned_by: T.Literal("gogrid"),
  available: T.Boolean({ description: "GoGrid extension: whether an online worker can serve the model now." }),
});

export const ModelList = T.Object({ object: T.Literal("list"), data: T.Array(ref("Model")) });

export const Completion = T.Object({
  id: T.String({ description: "`cmpl-<job id>`" }),
  object: T.Literal("text_completion"),
  created: T.Integer(),
  model: T.String(),
  choices: T.Array(T.Object({ text: T.String(), index: T.Literal(0), logprobs: T.Null(), finish_reason: FinishReason }), {
    minItems: 1,
    maxItems: 1,
  }),
  usage: ref("Usage"),
});

export const ChatCompletion = T.Object({
  id: T.String({ description: "`chatcmpl-<job id>`" }),
  object: T.Literal("chat.completion"),
  created: T.Integer(),
  model: T.String(),
  choices: T.Array(
    T.Object({
      index: T.Literal(0),
      message: T.Object({ role: T.Literal("assistant"), content: T.String(), refusal: T.Null() }),
      logprobs: T.Null(),
      finish_reason: FinishReason,
    }),
    { minItems: 1, maxItems: 1 },
  ),
  usage: ref("Usage"),
});

export const CompletionChunk = T.Object(
  {
    id: T.String(),
    object: T.Literal("text_completion"),
    created: T.Integer(),
    model: T.String(),
    choices: T.Array(T.Object({ text: T.String(), index: T.Literal(0), logprobs: T.Null(), finish_reason: Nullable(FinishReason) })),
    usage: T.Optional(ref("Usage")),
  },
  { description: "One `data:` event of a streamed completion; the last one carries usage when stream_options.include_usage is set." },
);

export const ChatCompletionChunk = T.Object(
  {
    id: T.String(),
    object: T.Literal("chat.completion.chunk"),
    created: T.Integer(),
    model: T.String(),
    choices: T.Array(
      T.Object({
        index: T.Literal(0),
        delta: T.Object({ role: T.Optional(T.Literal("assistant")), content: T.Optional(T.String()) }),
        logprobs: T.Null(),
        finish_reason: Nullable(FinishReason),
      }),
    ),
    usage: T.Optional(ref("Usage")),
  },
  { description: "One `data:` event of a streamed chat completion." },
);

export const Job = T.Object({
  id: T.String({ format: "uuid" }),
  object: T.Literal("job"),
  model: T.String(),
  status: T.Union(["queued", "running", "completed", "failed", "cancelled", "dead"].map((s) => T.Literal(s))),
  priority: T.Integer({ minimum: 0, maximum: 100 }),
  attempts: T.Integer({ minimum: 0, description: "Attempts started so far (a lost worker's job is retried elsewhere)." }),
  created_at: T.String({ format: "date-time" }),
  started_at: Nullable(T.String({ format: "date-time" })),
  finished_at: Nullable(T.String({ format: "date-time" })),
  result: Nullable(
    T.Object({
      text: T.String(),
      finish_reason: Nullable(FinishReason),
      usage: T.Object({ prompt_tokens: T.Integer({ minimum: 0 }), completion_tokens: T.Integer({ minimum: 0 }) }),
    }),
  ),
  error: Nullable(T.Object({ code: T.String(), message: T.String() })),
});

/** Mirrors the body check in enrolment/index.ts (its TypeBox model is not exported). */
export const RegisterRequest = T.Object(
  {
    token: T.String({ minLength: 1, maxLength: 256, description: "Single-use enrolment token (`ggenrol-…`) from the operator." }),
    csr: T.String({ minLength: 1, maxLength: 16 * 1024, description: "PEM certificate signing request made from the worker's key." }),
    client_id: T.Optional(T.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" })),
    name: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const RegisterResponse = T.Object({
  node_id: T.String({ format: "uuid" }),
  certificate: T.String({ description: "PEM client certificate (clientAuth, one year)." }),
  certificate_serial: T.String(),
  not_after: T.String({ format: "date-time" }),
  ca_certificate: T.String({ description: "PEM of the coordinator's CA." }),
  server_spki_sha256: T.String({ description: "Pin of the worker port's certificate." }),
  worker_url: T.String({ description: "wss:// address the worker connects to." }),
});

/** Every component schema by name; `#/components/schemas/<name>` refers to these. */
export const componentSchemas = {
  CompletionRequest,
  ChatRequest,
  Completion,
  ChatCompletion,
  CompletionChunk,
  ChatCompletionChunk,
  Usage,
  Model,
  ModelList,
  Job,
  RegisterRequest,
  RegisterResponse,
  Error: ErrorBody,
};
export type SchemaName = keyof typeof componentSchemas;

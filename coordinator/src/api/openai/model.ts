// Request schemas of the OpenAI-compatible endpoints (TypeBox: validator and type in one).
import { type Static, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { describeRequestError } from "./describe.ts";

const Stop = T.Union([
  T.String({ minLength: 1, maxLength: 256 }),
  T.Array(T.String({ minLength: 1, maxLength: 256 }), { maxItems: 4 }),
  T.Null(),
]);

const Sampling = {
  model: T.String({ minLength: 1, maxLength: 256 }),
  max_tokens: T.Optional(T.Union([T.Integer({ minimum: 1 }), T.Null()])),
  max_completion_tokens: T.Optional(T.Union([T.Integer({ minimum: 1 }), T.Null()])),
  temperature: T.Optional(T.Union([T.Number({ minimum: 0, maximum: 2 }), T.Null()])),
  top_p: T.Optional(T.Union([T.Number({ exclusiveMinimum: 0, maximum: 1 }), T.Null()])),
  top_k: T.Optional(T.Union([T.Integer({ minimum: 0 }), T.Null()])),
  min_p: T.Optional(T.Union([T.Number({ minimum: 0, maximum: 1 }), T.Null()])),
  repeat_penalty: T.Optional(T.Union([T.Number({ exclusiveMinimum: 0, maximum: 10 }), T.Null()])),
  frequency_penalty: T.Optional(T.Union([T.Number({ minimum: -2, maximum: 2 }), T.Null()])),
  presence_penalty: T.Optional(T.Union([T.Number({ minimum: -2, maximum: 2 }), T.Null()])),
  seed: T.Optional(T.Union([T.Integer({ minimum: 0, maximum: 4294967295 }), T.Null()])),
  stop: T.Optional(Stop),
  stream: T.Optional(T.Union([T.Boolean(), T.Null()])),
  stream_options: T.Optional(T.Union([T.Object({ include_usage: T.Optional(T.Boolean()) }), T.Null()])),
  n: T.Optional(T.Union([T.Literal(1), T.Null()])),
  user: T.Optional(T.String({ maxLength: 256 })),
  /** GoGrid extension: 0 (lowest) – 100 (highest), default 50. */
  priority: T.Optional(T.Integer({ minimum: 0, maximum: 100 })),
};

export const CompletionRequest = T.Object(
  {
    ...Sampling,
    prompt: T.Union([T.String(), T.Array(T.String(), { minItems: 1, maxItems: 1 })]),
    echo: T.Optional(T.Union([T.Literal(false), T.Null()])),
    logprobs: T.Optional(T.Null()),
    suffix: T.Optional(T.Null()),
  },
  { additionalProperties: false },
);
export type CompletionRequest = Static<typeof CompletionRequest>;

const TextPart = T.Object({ type: T.Literal("text"), text: T.String() });
export const ChatMessage = T.Object(
  {
    role: T.Union([T.Literal("system"), T.Literal("developer"), T.Literal("user"), T.Literal("assistant")]),
    content: T.Union([T.String(), T.Array(TextPart, { maxItems: 256 })]),
    name: T.Optional(T.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const ChatRequest = T.Object(
  {
    ...Sampling,
    messages: T.Array(ChatMessage, { minItems: 1, maxItems: 1024 }),
  },
  { additionalProperties: false },
);
export type ChatRequest = Static<typeof ChatRequest>;

const checkers = { completion: TypeCompiler.Compile(CompletionRequest), chat: TypeCompiler.Compile(ChatRequest) };
const arguments_ = {
  completion: new Set(Object.keys(CompletionRequest.properties)),
  chat: new Set(Object.keys(ChatRequest.properties)),
};

/** The first problem with a request body as [param, message], or null when it is valid. */
export function firstProblem(kind: "completion" | "chat", body: unknown): [string | null, string] | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [null, "the request body must be a JSON object"];
  const checker = checkers[kind];
  if (checker.Check(body)) return null;
  const err = checker.Errors(body).First();
  return err ? describeRequestError(err, arguments_[kind]) : [null, "invalid request"];
}

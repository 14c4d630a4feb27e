// Job messages: assignment, accept/reject, streamed chunks, the result, and cancellation.
import { type Static, Type } from "@sinclair/typebox";
import { LIMITS } from "../limits.ts";
import { Counter, defineMessage, ErrorDetail, Fence, HttpUrl, Identifier, Millis, ModelId, Reason, Sha256 } from "./common.ts";

/** The model a job runs; the worker downloads from `url` if not cached and checks `sha256`. */
export const ModelRef = Type.Object(
  {
    id: ModelId,
    sha256: Sha256,
    url: Type.Optional(HttpUrl),
    /** File size in bytes. */
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.MAX_MODEL_BYTES })),
  },
  { additionalProperties: false },
);
export type ModelRef = Static<typeof ModelRef>;

export const ChatRole = Type.Union([Type.Literal("system"), Type.Literal("user"), Type.Literal("assistant")]);
export type ChatRole = Static<typeof ChatRole>;

export const ChatMessage = Type.Object(
  { role: ChatRole, content: Type.String({ maxLength: LIMITS.MAX_TEXT_CHARS }) },
  { additionalProperties: false },
);
export type ChatMessage = Static<typeof ChatMessage>;

/** Sampling settings, fully resolved by the coordinator: the worker never guesses a default. */
export const SamplingParams = Type.Object(
  {
    max_tokens: Type.Integer({ minimum: 1, maximum: LIMITS.MAX_TOKENS }),
    /** 0 = greedy. */
    temperature: Type.Number({ minimum: 0, maximum: 2 }),
    /** 0 = disabled. */
    top_k: Type.Integer({ minimum: 0, maximum: 100_000 }),
    /** 1 = disabled. */
    top_p: Type.Number({ minimum: 0, maximum: 1 }),
    /** 0 = disabled. */
    min_p: Type.Number({ minimum: 0, maximum: 1 }),
    /** 1 = disabled. */
    repeat_penalty: Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
    /** Same seed on every attempt, so a retried job samples the same way. */
    seed: Type.Integer({ minimum: 0, maximum: 4_294_967_295 }),
    stop: Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.MAX_STOP_CHARS }), { maxItems: LIMITS.MAX_STOP_SEQUENCES }),
  },
  { additionalProperties: false },
);
export type SamplingParams = Static<typeof SamplingParams>;

/**
 * Coordinator → worker: run one attempt of a job. Exactly one of `prompt` (raw completion) or
 * `messages` (chat; the worker applies the model's chat template) is present. Every later
 * message about this attempt carries the same `fence`.
 */
export const JobAssignmentMessage = defineMessage(
  "job_assignment",
  {
    job_id: Identifier,
    /** 1 for the first attempt, then 2, 3, … on retries. */
    attempt: Type.Integer({ minimum: 1, maximum: 1000 }),
    fence: Fence,
    model: ModelRef,
    prompt: Type.Optional(Type.String({ maxLength: LIMITS.MAX_TEXT_CHARS })),
    messages: Type.Optional(Type.Array(ChatMessage, { minItems: 1, maxItems: LIMITS.MAX_CHAT_MESSAGES })),
    params: SamplingParams,
    /**
     * Seconds the worker may spend on this attempt, counted from receipt. Relative rather than
     * an absolute deadline, so clock skew between machines cannot expire a job early.
     */
    timeout_secs: Type.Integer({ minimum: 1, maximum: LIMITS.MAX_TIMEOUT_SECS }),
    /** 0 (lowest) – 100 (highest). */
    priority: Type.Integer({ minimum: 0, maximum: 100 }),
    /**
     * true: the output must be reproducible, so the coordinator can compare it with another
     * worker's run of the same request (result verification): decode this job alone in one
     * sequence (no batching with other jobs) and without reusing a prompt cache. The seed in
     * `params` is used as given. Absent = false.
     */
    deterministic: Type.Optional(Type.Boolean()),
  },
  "One attempt of an inference job.",
);
export type JobAssignmentMessage = Static<typeof JobAssignmentMessage>;

/** Worker → coordinator: the attempt is accepted and will produce chunks and a result. */
export const JobAcceptMessage = defineMessage("job_accept", { job_id: Identifier, fence: Fence }, "The worker takes the attempt.");
export type JobAcceptMessage = Static<typeof JobAcceptMessage>;

export const JobRejectReason = Type.Union([
  Type.Literal("busy"),
  Type.Literal("paused"),
  Type.Literal("model_unavailable"),
  Type.Literal("insufficient_memory"),
  Type.Literal("context_too_large"),
  Type.Literal("unsupported_params"),
  Type.Literal("shutting_down"),
  Type.Literal("internal_error"),
]);
export type JobRejectReason = Static<typeof JobRejectReason>;

/** Worker → coordinator: the attempt is refused; the coordinator places it elsewhere. */
export const JobRejectMessage = defineMessage(
  "job_reject",
  { job_id: Identifier, fence: Fence, reason: JobRejectReason, detail: Type.Optional(Reason) },
  "The worker declines the attempt, with a machine-readable reason.",
);
export type JobRejectMessage = Static<typeof JobRejectMessage>;

/** Worker → coordinator: generated text, in order. `seq` starts at 0 and rises by 1 per chunk. */
export const JobChunkMessage = defineMessage(
  "job_chunk",
  {
    job_id: Identifier,
    fence: Fence,
    seq: Type.Integer({ minimum: 0, maximum: LIMITS.MAX_TOKENS * 4 }),
    text: Type.String({ maxLength: LIMITS.MAX_CHUNK_CHARS }),
  },
  "A piece of streamed output.",
);
export type JobChunkMessage = Static<typeof JobChunkMessage>;

export const JobStatus = Type.Union([Type.Literal("completed"), Type.Literal("failed"), Type.Literal("cancelled")]);
export type JobStatus = Static<typeof JobStatus>;

export const FinishReason = Type.Union([Type.Literal("stop"), Type.Literal("length"), Type.Literal("cancelled"), Type.Null()]);
export type FinishReason = Static<typeof FinishReason>;

export const Usage = Type.Object({ prompt_tokens: Counter, completion_tokens: Counter }, { additionalProperties: false });
export type Usage = Static<typeof Usage>;

export const Timings = Type.Object(
  {
    /** Time the job waited on the worker before decoding began. */
    queue_ms: Type.Optional(Millis),
    /** Time to first token; null when no token was produced. */
    ttft_ms: Type.Union([Millis, Type.Null()]),
    total_ms: Millis,
    tokens_per_sec: Type.Number({ minimum: 0, maximum: 10_000_000 }),
    /** The worker process's peak resident memory while the attempt ran, MiB. */
    peak_memory_mb: Type.Optional(Type.Number({ minimum: 0, maximum: 16_777_216 })),
  },
  { additionalProperties: false },
);
export type Timings = Static<typeof Timings>;

/**
 * Worker → coordinator: the attempt ended. `completed` has finish_reason "stop" or "length";
 * `failed` carries `error`. `text` is the whole output when it was not streamed.
 */
export const JobResultMessage = defineMessage(
  "job_result",
  {
    job_id: Identifier,
    fence: Fence,
    status: JobStatus,
    finish_reason: FinishReason,
    text: Type.Optional(Type.String({ maxLength: LIMITS.MAX_TEXT_CHARS })),
    usage: Usage,
    timings: Timings,
    error: Type.Optional(ErrorDetail),
  },
  "Final outcome of an attempt.",
);
export type JobResultMessage = Static<typeof JobResultMessage>;

export const JobCancelReason = Type.Union([
  Type.Literal("client_cancelled"),
  Type.Literal("client_disconnected"),
  Type.Literal("timeout"),
  Type.Literal("reassigned"),
  Type.Literal("shutting_down"),
  Type.Literal("operator"),
]);
export type JobCancelReason = Static<typeof JobCancelReason>;

/** Coordinator → worker: stop the attempt; the worker answers with a `cancelled` job_result. */
export const JobCancelMessage = defineMessage(
  "job_cancel",
  { job_id: Identifier, fence: Fence, reason: JobCancelReason },
  "Stop an attempt.",
);
export type JobCancelMessage = Static<typeof JobCancelMessage>;

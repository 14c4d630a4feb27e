// OpenAI request → job request, and job outcome → OpenAI response objects (no HTTP here).
import type { ChatTurn, JobOutcome, JobRequest } from "../../jobs/types.ts";
import { badRequest } from "../errors.ts";
import type { ChatRequest, CompletionRequest } from "./model.ts";

export interface ApiLimits {
  maxPromptChars: number;
  maxTokens: number;
}

/** The byte cap on a request body: a prompt of maxPromptChars escaped as \uXXXX (6 bytes each), plus 1 MiB. */
export function bodyLimit(limits: ApiLimits): number {
  return limits.maxPromptChars * 6 + 1024 * 1024;
}

type Common = CompletionRequest | ChatRequest;

function params(body: Common, limits: ApiLimits): JobRequest["params"] {
  const asked = body.max_completion_tokens ?? body.max_tokens;
  if (asked != null && asked > limits.maxTokens) {
    throw badRequest(
      `max_tokens is ${asked}, above this server's limit of ${limits.maxTokens}`,
      body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens",
      "max_tokens_too_large",
    );
  }
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  return {
    max_tokens: asked ?? Math.min(limits.maxTokens, 1024),
    temperature: body.temperature ?? 1,
    top_k: body.top_k ?? 0,
    top_p: body.top_p ?? 1,
    min_p: body.min_p ?? 0,
    repeat_penalty: body.repeat_penalty ?? 1,
    // one seed per job: a retried attempt samples exactly as the first one did
    seed: body.seed ?? Math.floor(Math.random() * 0xffffffff),
    stop,
  };
}

function contentText(content: ChatRequest["messages"][number]["content"]): string {
  return typeof content === "string" ? content : content.map((p) => p.text).join("");
}

export function completionJob(body: CompletionRequest, limits: ApiLimits): JobRequest {
  const prompt = Array.isArray(body.prompt) ? (body.prompt[0] as string) : body.prompt;
  if (prompt.length > limits.maxPromptChars) {
    throw badRequest(
      `prompt is ${prompt.length} characters, above this server's limit of ${limits.maxPromptChars}`,
      "prompt",
      "prompt_too_long",
    );
  }
  return { kind: "completion", prompt, params: params(body, limits) };
}

export function chatJob(body: ChatRequest, limits: ApiLimits): JobRequest {
  const messages: ChatTurn[] = body.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: contentText(m.content),
  }));
  const chars = messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > limits.maxPromptChars) {
    throw badRequest(
      `messages hold ${chars} characters, above this server's limit of ${limits.maxPromptChars}`,
      "messages",
      "prompt_too_long",
    );
  }
  return { kind: "chat", messages, params: params(body, limits) };
}

const created = () => Math.floor(Date.now() / 1000);

function usage(o: JobOutcome) {
  return { prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens, total_tokens: o.promptTokens + o.completionTokens };
}

export function completionResponse(jobId: string, model: string, o: JobOutcome) {
  return {
    id: `cmpl-${jobId}`,
    object: "text_completion" as const,
    created: created(),
    model,
    choices: [{ text: o.text, index: 0, logprobs: null, finish_reason: o.finishReason ?? "stop" }],
    usage: usage(o),
  };
}

export function chatResponse(jobId: string, model: string, o: JobOutcome) {
  return {
    id: `chatcmpl-${jobId}`,
    object: "chat.completion" as const,
    created: created(),
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant" as const, content: o.text, refusal: null },
        logprobs: null,
        finish_reason: o.finishReason ?? "stop",
      },
    ],
    usage: usage(o),
  };
}

/** The SSE chunk objects OpenAI sends, for one job. */
export class StreamShaper {
  private readonly created = created();
  /** `data: ` + delta(text) as JSON + blank line is head + JSON.stringify(text) + tail (built once per job). */
  private readonly frameParts: [string, string];
  constructor(
    private readonly kind: "completion" | "chat",
    private readonly jobId: string,
    private readonly model: string,
  ) {
    const marker = "\u0000gogrid-delta\u0000";
    const whole = JSON.stringify(this.delta(marker));
    const at = whole.lastIndexOf(JSON.stringify(marker)); // the choices come after id and model
    this.frameParts = [`data: ${whole.slice(0, at)}`, `${whole.slice(at + JSON.stringify(marker).length)}\n\n`];
  }

  /** One SSE event carrying delta(text): the same bytes as `data: ${JSON.stringify(delta(text))}\n\n`, without building the object. */
  deltaFrame(text: string): string {
    return this.frameParts[0] + JSON.stringify(text) + this.frameParts[1];
  }

  private base() {
    return this.kind === "chat"
      ? { id: `chatcmpl-${this.jobId}`, object: "chat.completion.chunk", created: this.created, model: this.model }
      : { id: `cmpl-${this.jobId}`, object: "text_completion", created: this.created, model: this.model };
  }

  first(): object | null {
    return this.kind === "chat"
      ? { ...this.base(), choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] }
      : null;
  }

  delta(text: string): object {
    return this.kind === "chat"
      ? { ...this.base(), choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }] }
      : { ...this.base(), choices: [{ text, index: 0, logprobs: null, finish_reason: null }] };
  }

  finish(o: JobOutcome): object {
    const reason = o.finishReason ?? "stop";
    return this.kind === "chat"
      ? { ...this.base(), choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: reason }] }
      : { ...this.base(), choices: [{ text: "", index: 0, logprobs: null, finish_reason: reason }] };
  }

  usage(o: JobOutcome): object {
    return { ...this.base(), choices: [], usage: usage(o) };
  }
}

// OpenAI-compatible routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions.
import { Elysia } from "elysia";
import type { Repository } from "../../db/repository.ts";
import { type JobOutcome, JobRejectedError, type JobRequest, type JobSubmitter, type SubmittedJob } from "../../jobs/types.ts";
import { authenticate } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { ApiError, badRequest, notFound, unavailable } from "../errors.ts";
import { type ChatRequest, type CompletionRequest, firstProblem } from "./model.ts";
import { type ApiLimits, bodyLimit, chatJob, chatResponse, completionJob, completionResponse, StreamShaper } from "./service.ts";

export interface OpenAiDeps {
  repo: Repository;
  jobs: JobSubmitter;
  limits: ApiLimits;
}

function outcomeError(o: JobOutcome): ApiError {
  if (o.status === "cancelled")
    return new ApiError(409, "invalid_request_error", "job_cancelled", "the job was cancelled before it finished");
  return new ApiError(
    502,
    "server_error",
    o.error?.code ?? "job_failed",
    `the job failed on every attempt: ${o.error?.message ?? "unknown error"}`,
  );
}

/** Submits a job; a refusal becomes the API's 404 (unknown model) or 503 (no capacity, full queue). */
async function submitJob(
  deps: OpenAiDeps,
  apiKeyId: string,
  model: string,
  request: JobRequest,
  priority: number | undefined,
): Promise<SubmittedJob> {
  try {
    return await deps.jobs.submit({ apiKeyId, model, request, ...(priority !== undefined ? { priority } : {}) });
  } catch (e) {
    if (!(e instanceof JobRejectedError)) throw e;
    if (e.code === "model_not_found") throw notFound(e.message, "model_not_found", "model");
    throw unavailable(e.message, e.code, e.retryAfterSecs);
  }
}

function sse(kind: "completion" | "chat", job: SubmittedJob, model: string, includeUsage: boolean): Response {
  const shaper = new StreamShaper(kind, job.id, model);
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (obj: object) => controller.enqueue(enc.encode(`data: ${JSON.stringify(obj)}\n\n`));
      try {
        const first = shaper.first();
        if (first) send(first);
        for await (const text of job.stream()) controller.enqueue(enc.encode(shaper.deltaFrame(text)));
        const o = await job.result;
        if (o.status === "completed") {
          send(shaper.finish(o));
          if (includeUsage) send(shaper.usage(o));
        } else {
          send(outcomeError(o).body());
        }
        controller.enqueue(enc.encode("data: [DONE]\n\n"));
        controller.close();
      } catch (e) {
        // the client went away while we were writing: the job is cancelled in cancel()
        void e;
      }
    },
    cancel() {
      void job.cancel("the client disconnected");
    },
  });
  return new Response(stream, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-GoGrid-Job": job.id,
    },
  });
}

type RequestKind = "completion" | "chat";

/**
 * What both submitting routes do, in this order: the key (nobody without one gets a body read),
 * the capped body, its checks, `refuse` (a route's own check, after the shape is known good), the job.
 * `kind` null: a chat request when the body has `messages`, else a completion.
 */
export async function submitRequest(
  deps: OpenAiDeps,
  request: Request,
  kind: RequestKind | null,
  refuse?: (req: CompletionRequest | ChatRequest) => void,
): Promise<{ req: CompletionRequest | ChatRequest; job: SubmittedJob }> {
  const key = await authenticate(deps.repo, request);
  const body = await readJsonBody(request, bodyLimit(deps.limits));
  const k = kind ?? (typeof body === "object" && body !== null && "messages" in body ? "chat" : "completion");
  const problem = firstProblem(k, body);
  if (problem) throw badRequest(problem[1], problem[0]);
  const req = body as CompletionRequest | ChatRequest;
  refuse?.(req);
  const jobRequest = k === "chat" ? chatJob(req as ChatRequest, deps.limits) : completionJob(req as CompletionRequest, deps.limits);
  const job = await submitJob(deps, key.id, req.model, jobRequest, req.priority);
  return { req, job };
}

async function handle(deps: OpenAiDeps, kind: RequestKind, request: Request): Promise<Response> {
  const { req, job } = await submitRequest(deps, request, kind);
  if (req.stream) return sse(kind, job, req.model, req.stream_options?.include_usage === true);
  const onAbort = () => void job.cancel("the client disconnected");
  request.signal.addEventListener("abort", onAbort, { once: true });
  const o = await job.result;
  request.signal.removeEventListener("abort", onAbort);
  if (o.status !== "completed") throw outcomeError(o);
  return Response.json(kind === "chat" ? chatResponse(job.id, req.model, o) : completionResponse(job.id, req.model, o), {
    headers: { "X-GoGrid-Job": job.id },
  });
}

export function openAiRoutes(deps: OpenAiDeps) {
  return (
    new Elysia({ name: "openai" })
      .get("/v1/models", async ({ request }) => {
        await authenticate(deps.repo, request);
        const models = await deps.jobs.models();
        return {
          object: "list",
          data: models.map((m) => ({ id: m.id, object: "model", created: m.created, owned_by: "gogrid", available: m.available })),
        };
      })
      .get("/v1/models/:id", async ({ request, params }) => {
        await authenticate(deps.repo, request);
        const m = (await deps.jobs.models()).find((x) => x.id === params.id);
        if (!m) throw notFound(`The model '${params.id}' does not exist`, "model_not_found", "model");
        return { id: m.id, object: "model", created: m.created, owned_by: "gogrid", available: m.available };
      })
      // bodies are read by readJsonBody (after the key is checked, capped at bodyLimit), not by Elysia
      .post("/v1/completions", ({ request }) => handle(deps, "completion", request), { parse: "none" })
      .post("/v1/chat/completions", ({ request }) => handle(deps, "chat", request), { parse: "none" })
  );
}

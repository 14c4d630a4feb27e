// Native job API: POST /api/v1/jobs (queue and return), GET /api/v1/jobs/:id, DELETE to cancel.
import { Elysia } from "elysia";
import type { JobRow } from "../../db/repository.ts";
import { outcomeOf } from "../../jobs/service.ts";
import { authenticate } from "../auth.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { type OpenAiDeps, submitRequest } from "../openai/index.ts";

export interface JobsApiDeps extends OpenAiDeps {
  cancel(jobId: string, reason: string): Promise<JobRow | null>;
}

function view(job: JobRow) {
  const done = job.status === "completed";
  const o = outcomeOf(job);
  return {
    id: job.id,
    object: "job",
    model: job.model,
    status: job.status,
    priority: job.priority,
    attempts: job.attempts,
    created_at: new Date(job.createdAt).toISOString(),
    started_at: job.startedAt ? new Date(job.startedAt).toISOString() : null,
    finished_at: job.finishedAt ? new Date(job.finishedAt).toISOString() : null,
    result: done
      ? { text: o.text, finish_reason: o.finishReason, usage: { prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens } }
      : null,
    error: job.status === "failed" || job.status === "dead" ? o.error : null,
  };
}

export function jobRoutes(deps: JobsApiDeps) {
  async function owned(request: Request, id: string): Promise<JobRow> {
    const key = await authenticate(deps.repo, request);
    const job = await deps.repo.getJob(id);
    // another key's job is indistinguishable from a missing one
    if (!job || job.apiKeyId !== key.id) throw notFound(`no job with id ${id}`, "job_not_found", "id");
    return job;
  }

  return new Elysia({ name: "jobs" })
    .post(
      "/api/v1/jobs",
      async ({ request, set }) => {
        const { job } = await submitRequest(deps, request, null, (req) => {
          if (req.stream)
            throw badRequest("this endpoint queues the job and returns at once; stream with /v1/completions instead", "stream");
        });
        set.status = 202;
        const row = await deps.repo.getJob(job.id);
        return row ? view(row) : { id: job.id, object: "job", status: "queued" };
      },
      { parse: "none" },
    )
    .get("/api/v1/jobs/:id", async ({ params, request }) => view(await owned(request, params.id)))
    .delete("/api/v1/jobs/:id", async ({ params, request }) => {
      const job = await owned(request, params.id);
      if (job.status !== "queued" && job.status !== "running") {
        throw new ApiError(409, "invalid_request_error", "job_finished", `job ${job.id} has already finished (${job.status})`, "id");
      }
      await deps.cancel(job.id, "cancelled by the client");
      return view((await deps.repo.getJob(job.id)) as JobRow);
    });
}

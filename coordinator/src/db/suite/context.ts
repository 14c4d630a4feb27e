// What each shared repository test gets from repository.test.ts, and small builders for test rows.
import type { NewJob, Repository } from "../repository.ts";

export interface SuiteContext {
  dialect: "sqlite" | "postgres";
  /** The repository of the current test, on an empty database. */
  repo(): Repository;
  /**
   * `n` more repositories on one shared, empty database, each with its own connection (pool):
   * separate "coordinator instances". Closed after the test.
   */
  instances(n: number): Promise<Repository[]>;
}

export function newJob(id: string, now: number, extra: Partial<NewJob> = {}): NewJob {
  return {
    id,
    apiKeyId: null,
    model: "m1",
    request: { prompt: `prompt of ${id}`, max_tokens: 16, nested: { stop: ["\n"], temperature: 0.5 } },
    timeoutMs: 30_000,
    originInstance: "i1",
    now,
    ...extra,
  };
}

let fences = 0;
/** A lease request with a fresh fence. */
export function lease(workerId: string, now: number, models: string[] = ["m1"], leaseMs = 10_000) {
  fences += 1;
  return { workerId, models, now, leaseMs, fence: `fence-${fences}-${workerId}` };
}

export const RESULT = { text: "Once upon a time", finishReason: "stop", promptTokens: 5, completionTokens: 4 };

/** Enqueues job `id` at `createdAt`, leases it to w1 and completes it with RESULT at `endedAt`. */
export async function completedJob(repo: Repository, id: string, createdAt: number, endedAt: number, extra: Partial<NewJob> = {}) {
  await repo.enqueueJob(newJob(id, createdAt, extra));
  const l = lease("w1", createdAt);
  await repo.leaseJob(id, l);
  return repo.completeJob(id, l.fence, RESULT, endedAt);
}

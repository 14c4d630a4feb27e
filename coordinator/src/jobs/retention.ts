// Finished jobs are kept `jobs.retention_days`, then deleted with their attempts: the database
// does not grow without end, and clients' prompts and results are not kept longer than needed.
// Earnings ledger entries stay (they are the record of what was paid). The reconciler looks back
// 24 hours, so a retention of a day or more never deletes a job it could still credit.
import type { Repository } from "../db/repository.ts";

export const DAY_MS = 24 * 3_600_000;

export interface PruneOptions {
  /**
   * Jobs per statement: a short transaction each, so nothing else waits long (200 take ~5 ms on
   * SQLite, where the coordinator's own thread runs them, ~2000 take 30-50 ms).
   */
  batch?: number;
  /** Statements per call; the next call goes on where this one stopped. */
  maxBatches?: number;
}

/** Deletes the finished jobs that ended more than `retentionMs` before `now`; returns how many. */
export async function pruneFinishedJobs(repo: Repository, now: number, retentionMs: number, o: PruneOptions = {}): Promise<number> {
  if (retentionMs <= 0) return 0;
  const batch = o.batch ?? 200;
  const maxBatches = o.maxBatches ?? 500;
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await repo.deleteFinishedJobs(now - retentionMs, batch);
    deleted += n;
    if (n < batch) break;
  }
  return deleted;
}

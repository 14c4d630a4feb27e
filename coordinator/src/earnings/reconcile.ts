// Credits completed jobs that missed their credit: a coordinator killed (or its database lost) between
// completing a job and writing the ledger. Crediting is idempotent, so running this anywhere, any time, is safe.
import type { Repository } from "../db/repository.ts";
import { creditCompletedJob } from "./ledger.ts";

const HOUR = 3_600_000;

export interface ReconcileOptions {
  /** How far back to look (default 24 h). */
  lookbackMs?: number;
  /** Jobs finished more recently than this are left to the normal path (default 2 s; crediting is idempotent, so 0 is safe too). */
  settleMs?: number;
  /** At most this many per run (default 500). */
  limit?: number;
}

/** Returns how many jobs it credited now. */
export async function reconcileCredits(repo: Repository, now: number, o: ReconcileOptions = {}): Promise<number> {
  const missing = await repo.uncreditedJobs({
    since: now - (o.lookbackMs ?? 24 * HOUR),
    until: now - (o.settleMs ?? 2000),
    limit: o.limit ?? 500,
  });
  let credited = 0;
  for (const job of missing) {
    const r = await creditCompletedJob(repo, job, job.workerId, now);
    if (r.credited) credited++;
  }
  return credited;
}

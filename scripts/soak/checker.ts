// The soak's checker: every job the client sent, what it got back, and what the database and ledger say.
import type { Repository } from "../../coordinator/src/db/repository.ts";
import { answer } from "../../coordinator/test/faults/worker-proc.ts";
import type { SoakTotals } from "./part.ts";

export { answer };

/** One submission as the client saw it. */
export interface ClientRecord {
  prompt: string;
  /** The job id the coordinator gave back (null when the submission itself failed). */
  id: string | null;
  /**
   * completed: the right text; wrong: another text; failed: an error the client saw for an accepted
   * job; refused: never accepted (no capacity, full queue, coordinator unreachable); unknown: accepted,
   * but the client never learned how it ended (lost).
   */
  outcome: "completed" | "wrong" | "failed" | "refused" | "unknown";
  text: string | null;
  /** The HTTP status or error code of the last answer, for failure messages. */
  detail: string;
}

const FINAL = new Set(["completed", "failed", "cancelled", "dead"]);

export interface CheckOutput {
  totals: SoakTotals;
  figures: Record<string, number>;
  failures: string[];
}

/** Waits (up to `ms`) until the database holds no queued or running job; returns how many remain. */
export async function settle(repo: Repository, ms: number): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    // client jobs only: audit re-runs and canaries (issue 9) are the coordinator's own checks
    // (a database coming back from a restart may refuse a query or two: asked again)
    const open = await repo.listJobs({ status: ["queued", "running"] }).then(
      (jobs) => jobs.filter((j) => j.purpose === "client").length,
      () => -1,
    );
    if (open === 0 || Date.now() > end) return open;
    await Bun.sleep(200);
  }
}

/** Compares the client's records with the jobs table and the ledger. */
export async function check(repo: Repository, records: ClientRecord[], settleMs = 30_000): Promise<CheckOutput> {
  await settle(repo, settleMs);
  const everyJob = new Map((await repo.listJobs({})).map((j) => [j.id, j]));
  const jobs = new Map([...everyJob].filter(([, j]) => j.purpose === "client"));
  const ledger = await repo.listLedger({ limit: 10_000_000 });
  const failures: string[] = [];
  const accepted = records.filter((r) => r.outcome !== "refused");
  const completed = accepted.filter((r) => r.outcome === "completed");
  const failed = accepted.filter((r) => r.outcome === "failed");
  const wrong = accepted.filter((r) => r.outcome === "wrong");
  const duplicated = wrong.filter((r) => r.text !== null && r.text.length > answer(r.prompt).length);
  const unknown = accepted.filter((r) => r.outcome === "unknown");
  const unfinished = [...jobs.values()].filter((j) => !FINAL.has(j.status));
  const lostIds = new Set([...unknown.map((r) => r.id ?? r.prompt), ...unfinished.map((j) => j.id)]);
  // what the client saw must be what the database holds
  const known = new Set<string>();
  for (const r of accepted) {
    if (!r.id) continue;
    known.add(r.id);
    const j = jobs.get(r.id);
    if (!j) failures.push(`job ${r.id}: the client holds it but the database does not`);
    else if (r.outcome === "completed" && j.status !== "completed")
      failures.push(`job ${r.id}: client got a result, database says ${j.status}`);
    else if (r.outcome === "failed" && j.status === "completed")
      failures.push(`job ${r.id}: client saw a failure (${r.detail}), database says completed`);
  }
  // each completed job credited exactly once, to the worker that completed it; nothing else credited
  const perJob = new Map<string, number>();
  let misCredited = 0;
  for (const e of ledger) {
    perJob.set(e.jobId, (perJob.get(e.jobId) ?? 0) + 1);
    const j = everyJob.get(e.jobId);
    if (j?.status !== "completed" || (j.workerId !== null && j.workerId !== e.nodeId)) misCredited++;
  }
  const doubleCredited = [...perJob.values()].filter((n) => n > 1).length + misCredited;
  // a credit follows its job's completion (a poller may see the job completed first): give stragglers 5 s
  let uncredited = [...jobs.values()].filter((j) => j.status === "completed" && (j.completionTokens ?? 0) > 0 && !perJob.has(j.id));
  for (let waited = 0; uncredited.length > 0 && waited < 5_000; waited += 250) {
    await Bun.sleep(250);
    const late = new Set((await repo.listLedger({ limit: 10_000_000 })).map((e) => e.jobId));
    uncredited = uncredited.filter((j) => !late.has(j.id));
  }
  const totals: SoakTotals = {
    accepted: accepted.length,
    completed: completed.length,
    failed_visibly: failed.length,
    lost: lostIds.size,
    duplicated: duplicated.length,
    double_credited: doubleCredited,
  };
  if (totals.lost > 0) failures.push(`${totals.lost} accepted job(s) lost (e.g. ${[...lostIds][0]})`);
  if (totals.duplicated > 0) failures.push(`${totals.duplicated} answer(s) duplicated`);
  if (wrong.length > duplicated.length) failures.push(`${wrong.length - duplicated.length} wrong answer(s)`);
  if (totals.double_credited > 0) failures.push(`${totals.double_credited} ledger credit(s) doubled or not matching a completed job`);
  if (uncredited.length > 0) {
    // a quarantined worker is not paid by design; anything else is a credit the coordinator lost
    const quarantined = new Set<string>();
    for (const j of uncredited) if (j.workerId && (await repo.getWorker(j.workerId))?.quarantinedAt != null) quarantined.add(j.id);
    const lostCredit = uncredited.filter((j) => !quarantined.has(j.id));
    if (lostCredit.length > 0)
      failures.push(`${lostCredit.length} completed job(s) never credited, worker not quarantined (e.g. ${lostCredit[0]?.id})`);
    if (quarantined.size > 0) failures.push(`${quarantined.size} completed job(s) unpaid because their worker was quarantined`);
  }
  if (totals.completed + totals.failed_visibly + totals.lost + wrong.length !== totals.accepted)
    failures.push("accepted jobs neither completed, failed visibly, nor lost: checker bug");
  return {
    totals,
    figures: {
      submitted: records.length,
      refused: records.length - accepted.length,
      ...topRefusal(records),
      wrong: wrong.length,
      orphaned: [...jobs.keys()].filter((id) => !known.has(id)).length,
      uncredited: uncredited.length,
    },
    failures,
  };
}

/** The most common reason submissions were refused (figures: refused_top, refused_top_count). */
function topRefusal(records: ClientRecord[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) if (r.outcome === "refused") counts.set(r.detail, (counts.get(r.detail) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1])[0];
  return top ? { [`refused_top: ${top[0].slice(0, 60)}`]: top[1] } : {};
}

/** Adds one fault's figures to a part's: names ending in _max keep the largest, others are summed (3 decimals). */
export function mergeFigures(into: Record<string, number>, add: Record<string, number>): void {
  for (const [k, v] of Object.entries(add)) {
    const merged = k.endsWith("_max") ? Math.max(into[k] ?? 0, v) : (into[k] ?? 0) + v;
    into[k] = Math.round(merged * 1000) / 1000;
  }
}

/** Sums the totals of several runs. */
export function addTotals(a: SoakTotals, b: SoakTotals): SoakTotals {
  return {
    accepted: a.accepted + b.accepted,
    completed: a.completed + b.completed,
    failed_visibly: a.failed_visibly + b.failed_visibly,
    lost: a.lost + b.lost,
    duplicated: a.duplicated + b.duplicated,
    double_credited: a.double_credited + b.double_credited,
  };
}

export const ZERO: SoakTotals = { accepted: 0, completed: 0, failed_visibly: 0, lost: 0, duplicated: 0, double_credited: 0 };

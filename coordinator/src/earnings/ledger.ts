// Crediting completed jobs to the ledger exactly once, and a contributor's earnings per period.
import type { Earnings } from "@gogrid/protocol";
import { checkTzOffset } from "../db/ledger-query.ts";
import type { CreditRequest, JobRow, LedgerFilter, Repository } from "../db/repository.ts";
import { CURRENCY, formatAmount, priceMicros } from "./pricing.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Why a call credited nothing. */
export type NoCreditReason =
  /** No job with that id. */
  | "unknown_job"
  /** The job is not (or not yet) completed: queued, running, failed, cancelled or dead. */
  | "not_completed"
  /** Completed without generated tokens: nothing to pay for. */
  | "no_output"
  /** The job was completed by another worker (this caller's attempt was fenced out). */
  | "other_worker"
  /** The ledger already holds this job's entry (an earlier or concurrent call made it). */
  | "already_credited"
  /** An audit re-run or a canary (issue 9): checks, not client work, are never paid. */
  | "not_client_job"
  /** The worker is quarantined (issue 9): its results are not trusted, so not paid, ever. */
  | "quarantined";

export type CreditResult = { credited: true; amountMicros: number } | { credited: false; amountMicros: 0; reason: NoCreditReason };

/**
 * Credits a completed job to the worker `nodeId` (and its owner) once; safe to call again, late,
 * or concurrently: the job id is the ledger's idempotency key and only the call whose insert
 * happened adds the API key's usage (tokens and cost), in the same atomic step
 * (Repository.creditJob). The job is read back from the repository, so `job` may be any copy of
 * it (only its id is used). The stored status decides (planCredit):
 * - only `completed` jobs with completionTokens > 0 are credited (never failed, cancelled, dead or
 *   zero-output ones), and only to the worker that completed it (its workerId);
 * - only client jobs (never audit re-runs or canaries), and never to a quarantined worker: a job
 *   it completes while quarantined stays unpaid after a release too. Credits made before a failed
 *   audit are kept (the ledger is append-only); the audit list names them for the operator;
 * - the amount is priceMicros(getPrice(model), prompt, completion); a model without a price is
 *   still credited with amount 0, so its usage (tokens, jobs) shows in the ledger and the key.
 */
export async function creditCompletedJob(repo: Repository, job: Pick<JobRow, "id">, nodeId: string, now: number): Promise<CreditResult> {
  const stored = await repo.getJob(job.id);
  if (!stored) return { credited: false, amountMicros: 0, reason: "unknown_job" };
  const plan = await planCredit(repo, stored, nodeId, now);
  if ("reason" in plan) return { credited: false, amountMicros: 0, reason: plan.reason };
  const outcome = await repo.creditJob(plan.entry, plan.apiKeyId);
  if (outcome !== "credited") return { credited: false, amountMicros: 0, reason: outcome };
  return { credited: true, amountMicros: plan.entry.amountMicros };
}

/**
 * The rules of creditCompletedJob, on the job as it is (or, for completeAndCreditJob, as it will
 * be once completed): the credit it earns, or why it earns none. The price is read here
 * (Repository.getPrice); whether the worker is quarantined or the job already credited is the
 * ledger write's to find.
 */
export async function planCredit(
  repo: Repository,
  job: Pick<JobRow, "id" | "status" | "model" | "purpose" | "apiKeyId" | "workerId" | "promptTokens" | "completionTokens">,
  nodeId: string,
  now: number,
): Promise<CreditRequest | { reason: NoCreditReason }> {
  if (job.status !== "completed") return { reason: "not_completed" };
  const completionTokens = job.completionTokens ?? 0;
  if (!(completionTokens > 0)) return { reason: "no_output" };
  if (job.workerId !== null && job.workerId !== nodeId) return { reason: "other_worker" };
  if (job.purpose !== "client") return { reason: "not_client_job" };
  const promptTokens = Math.max(0, job.promptTokens ?? 0);
  const amountMicros = priceMicros(await repo.getPrice(job.model), promptTokens, completionTokens);
  return {
    entry: { jobId: job.id, nodeId, model: job.model, promptTokens, completionTokens, amountMicros, at: now },
    apiKeyId: job.apiKeyId,
  };
}

/** Start (epoch ms) of each period, in a time zone `tzOffsetMinutes` east of UTC. */
export interface PeriodStarts {
  /** Local midnight today. */
  today: number;
  /** Local Monday 00:00 of this week (ISO weeks start on Monday). */
  week: number;
  /** Local 00:00 on the 1st of this month. */
  month: number;
}

/** Refuses offsets that are not whole minutes within ±1440 (RangeError). */
export function periodStarts(now: number, tzOffsetMinutes: number): PeriodStarts {
  const offset = checkTzOffset(tzOffsetMinutes) * MINUTE;
  // Local wall-clock time written as if it were UTC, so the UTC calendar functions give local fields.
  const localMidnight = Math.floor((now + offset) / DAY) * DAY;
  const date = new Date(localMidnight);
  const sinceMonday = (date.getUTCDay() + 6) % 7;
  return {
    today: localMidnight - offset,
    week: localMidnight - sinceMonday * DAY - offset,
    month: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) - offset,
  };
}

/**
 * One node's (or owner's; or everyone's when neither is given) earnings as the protocol's
 * `Earnings`: credits since local midnight, since local Monday 00:00, since the local 1st, and
 * all time. Periods start in the contributor's time zone (`tzOffsetMinutes` east of UTC) and run
 * to the present (entries dated after `now`, from clock skew, count too).
 */
export async function earningsSummary(
  repo: Repository,
  filter: { nodeId?: string; ownerId?: string },
  tzOffsetMinutes: number,
  now: number,
): Promise<Earnings> {
  return formatEarnings(await earningsMicros(repo, filter, tzOffsetMinutes, now));
}

/** earningsSummary's four sums, in micro-units (the in-memory cache adds credits to these). */
export interface EarningsMicros {
  today: number;
  week: number;
  month: number;
  total: number;
}

export function formatEarnings(m: EarningsMicros): Earnings {
  return {
    today: formatAmount(m.today),
    week: formatAmount(m.week),
    month: formatAmount(m.month),
    total: formatAmount(m.total),
    currency: CURRENCY,
  };
}

/** The four period sums of earningsSummary, unformatted (four ledger queries). */
export async function earningsMicros(
  repo: Repository,
  filter: { nodeId?: string; ownerId?: string },
  tzOffsetMinutes: number,
  now: number,
): Promise<EarningsMicros> {
  const starts = periodStarts(now, tzOffsetMinutes);
  const base: LedgerFilter = {
    ...(filter.nodeId !== undefined ? { nodeId: filter.nodeId } : {}),
    ...(filter.ownerId !== undefined ? { ownerId: filter.ownerId } : {}),
  };
  const [today, week, month, total] = await Promise.all([
    repo.ledgerTotals({ ...base, since: starts.today }),
    repo.ledgerTotals({ ...base, since: starts.week }),
    repo.ledgerTotals({ ...base, since: starts.month }),
    repo.ledgerTotals(base),
  ]);
  return { today: today.amountMicros, week: week.amountMicros, month: month.amountMicros, total: total.amountMicros };
}

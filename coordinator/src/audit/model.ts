// Result verification's pure parts (issue 9): the trust score, output comparison, worker classes.
import type { TrustPolicy } from "../db/repository.ts";

/**
 * How two outputs of one deterministic request compare:
 * - match: identical;
 * - inconclusive: they agree on at least half of the longer text, then diverge. Numeric noise
 *   (a near-tie between two tokens after different kernels or batch shapes) can do that, so no
 *   one is blamed;
 * - mismatch: they part early (or one is empty): someone did not run the model.
 */
export type Verdict = "match" | "inconclusive" | "mismatch";

/** Share of the longer text two outputs must agree on before a divergence counts as noise. */
export const LATE_DIVERGENCE = 0.5;

export function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

export function compareOutputs(a: string, b: string): Verdict {
  if (a === b) return "match";
  return commonPrefix(a, b) >= LATE_DIVERGENCE * Math.max(a.length, b.length) ? "inconclusive" : "mismatch";
}

/**
 * Beta-style trust: `prior` pseudo-matches, no pseudo-mismatches, so a worker without evidence
 * scores 1 and each confirmed mismatch weighs as much as one match:
 *   trust = (prior + matches) / (prior + matches + mismatches).
 */
export function trustScore(matches: number, mismatches: number, prior: number): number {
  const m = Math.max(0, matches);
  const x = Math.max(0, mismatches);
  return (prior + m) / (prior + m + x);
}

export function trustPolicy(prior: number, threshold: number): TrustPolicy {
  if (!(prior > 0)) throw new RangeError(`audit trust prior must be positive, got ${prior}`);
  if (!(threshold >= 0 && threshold < 1)) throw new RangeError(`audit trust threshold must be in [0, 1), got ${threshold}`);
  return { score: (m, x) => trustScore(m, x, prior), threshold };
}

/** Mismatches (with no matches) that quarantine a fresh worker: the smallest x with score < threshold. */
export function mismatchesToQuarantine(policy: TrustPolicy, matches = 0): number {
  let x = 0;
  while (policy.score(matches, x) >= policy.threshold) x++;
  return x;
}

/**
 * The class a worker's results are compared within: its GPU backends and CPU architecture from
 * `register` (e.g. "cuda/x64", "metal/arm64", "cpu/x64"). Different kernels round differently,
 * so outputs are only compared between workers of one class.
 */
export function workerClass(info: Record<string, unknown> | null): string {
  const gpus = Array.isArray(info?.gpu_info) ? (info.gpu_info as unknown[]) : [];
  const backends = [
    ...new Set(
      gpus
        .map((g) => (typeof g === "object" && g !== null ? (g as Record<string, unknown>).backend : null))
        .filter((b): b is string => typeof b === "string"),
    ),
  ].sort();
  const arch = typeof info?.arch === "string" ? info.arch : "unknown";
  return `${backends.length > 0 ? backends.join("+") : "cpu"}/${arch}`;
}

/** The audit settings (from the coordinator's config). */
export interface AuditSettings {
  /** Share of client jobs re-run on a second worker (0 = no audits). */
  fraction: number;
  /** Share of client jobs run with `deterministic: true` (the audited ones and decoys). */
  deterministicFraction: number;
  /** Chance, after each completed client job, of a canary for that worker. */
  canaryFraction: number;
  /** Pseudo-matches of a fresh worker (see trustScore). */
  prior: number;
  /** Trust below this quarantines. */
  threshold: number;
  maxAttempts: number;
  timeoutMs: number;
  /** Checks still open after this long are closed as unresolved (their jobs cancelled). */
  staleMs: number;
}

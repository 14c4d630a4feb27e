// Result verification pieces both dialects share (issue 9): the trust arithmetic and the audit filters.
import { type AnyColumn, and, eq, inArray, or, type SQL } from "drizzle-orm";
import type { AuditFilter, TrustPolicy } from "./repository.ts";

/** A worker's counts after `delta`, its trust, and whether this outcome quarantines it (only on the crossing). */
export function trustPatch(
  w: { auditMatches: number; auditMismatches: number; quarantinedAt: number | null },
  delta: { matches: number; mismatches: number },
  policy: TrustPolicy,
  reason: string,
  now: number,
) {
  const auditMatches = w.auditMatches + delta.matches;
  const auditMismatches = w.auditMismatches + delta.mismatches;
  const trust = policy.score(auditMatches, auditMismatches);
  const quarantined = w.quarantinedAt === null && trust < policy.threshold;
  return {
    set: { auditMatches, auditMismatches, trust, ...(quarantined ? { quarantinedAt: now, quarantineReason: reason } : {}) },
    quarantined,
  };
}

/** A released worker starts afresh: no quarantine, no counts, the prior's trust. */
export function releasePatch(policy: TrustPolicy) {
  return { quarantinedAt: null, quarantineReason: null, auditMatches: 0, auditMismatches: 0, trust: policy.score(0, 0) };
}

/** The audits columns the filters read (the same names in schema-sqlite.ts and schema-pg.ts). */
export interface AuditColumns {
  id: AnyColumn;
  status: AnyColumn;
  auditJobId: AnyColumn;
  tiebreakJobId: AnyColumn;
  subjectWorker: AnyColumn;
  auditWorker: AnyColumn;
  tiebreakWorker: AnyColumn;
  culprit: AnyColumn;
}

/** Audits in one of the statuses (when given) that involve the worker in any role (when given). */
export function auditFilterWhere(t: AuditColumns, filter: AuditFilter): SQL | undefined {
  const w = filter.workerId;
  return and(
    filter.status && filter.status.length > 0 ? inArray(t.status, filter.status) : undefined,
    w !== undefined ? or(eq(t.subjectWorker, w), eq(t.auditWorker, w), eq(t.tiebreakWorker, w), eq(t.culprit, w)) : undefined,
  );
}

/** The audit a job belongs to: as the audited client job, its re-run or its tiebreak. */
export function auditOfJobWhere(t: AuditColumns, jobId: string): SQL | undefined {
  return or(eq(t.id, jobId), eq(t.auditJobId, jobId), eq(t.tiebreakJobId, jobId));
}

// Result verification on SQLite (issue 9): trust counts and quarantine, audits, canaries.
import { and, asc, desc, eq, inArray, isNotNull, or } from "drizzle-orm";
import type { AuditFilter, AuditRow, AuditStatus, CanaryRow, NewAudit, TrustPolicy, WorkerRow } from "./repository.ts";
import * as rows from "./rows.ts";
import { audits, canaries, workers } from "./schema-sqlite.ts";
import { type Db, immediate } from "./sqlite-jobs.ts";

export async function recordTrust(
  db: Db,
  nodeId: string,
  delta: { matches: number; mismatches: number },
  policy: TrustPolicy,
  reason: string,
  now: number,
): Promise<{ worker: WorkerRow; quarantined: boolean } | null> {
  return immediate(db, (tx) => {
    const w = tx.select().from(workers).where(eq(workers.nodeId, nodeId)).get();
    if (!w) return null;
    const auditMatches = w.auditMatches + delta.matches;
    const auditMismatches = w.auditMismatches + delta.mismatches;
    const trust = policy.score(auditMatches, auditMismatches);
    const quarantined = w.quarantinedAt === null && trust < policy.threshold;
    const updated = tx
      .update(workers)
      .set({ auditMatches, auditMismatches, trust, ...(quarantined ? { quarantinedAt: now, quarantineReason: reason } : {}) })
      .where(eq(workers.nodeId, nodeId))
      .returning()
      .get();
    return updated ? { worker: rows.toWorker(updated), quarantined } : null;
  });
}

export async function releaseWorker(db: Db, nodeId: string, policy: TrustPolicy): Promise<boolean> {
  const changed = db
    .update(workers)
    .set({ quarantinedAt: null, quarantineReason: null, auditMatches: 0, auditMismatches: 0, trust: policy.score(0, 0) })
    .where(and(eq(workers.nodeId, nodeId), isNotNull(workers.quarantinedAt)))
    .returning({ nodeId: workers.nodeId })
    .all();
  return changed.length > 0;
}

export async function insertAudit(db: Db, row: NewAudit): Promise<boolean> {
  return db.insert(audits).values(row).onConflictDoNothing().returning({ id: audits.id }).all().length > 0;
}

export async function getAudit(db: Db, id: string): Promise<AuditRow | null> {
  const row = db.select().from(audits).where(eq(audits.id, id)).get();
  return row ? rows.toAudit(row) : null;
}

export async function findAuditByJob(db: Db, jobId: string): Promise<AuditRow | null> {
  const row = db
    .select()
    .from(audits)
    .where(or(eq(audits.id, jobId), eq(audits.auditJobId, jobId), eq(audits.tiebreakJobId, jobId)))
    .get();
  return row ? rows.toAudit(row) : null;
}

export async function updateAudit(
  db: Db,
  id: string,
  from: AuditStatus[],
  patch: Partial<Omit<AuditRow, "id" | "kind">>,
): Promise<AuditRow | null> {
  const set = rows.definedOnly(patch);
  const row = db
    .update(audits)
    .set(set)
    .where(and(eq(audits.id, id), inArray(audits.status, from)))
    .returning()
    .get();
  return row ? rows.toAudit(row) : null;
}

export async function listAudits(db: Db, filter: AuditFilter = {}): Promise<AuditRow[]> {
  const w = filter.workerId;
  const where = and(
    filter.status && filter.status.length > 0 ? inArray(audits.status, filter.status) : undefined,
    w !== undefined
      ? or(eq(audits.subjectWorker, w), eq(audits.auditWorker, w), eq(audits.tiebreakWorker, w), eq(audits.culprit, w))
      : undefined,
  );
  const query = db.select().from(audits).where(where).orderBy(desc(audits.createdAt), desc(audits.id));
  return (filter.limit !== undefined ? query.limit(filter.limit).all() : query.all()).map(rows.toAudit);
}

export async function addCanary(db: Db, row: CanaryRow): Promise<void> {
  db.insert(canaries).values(row).run();
}

export async function listCanaries(db: Db, model?: string): Promise<CanaryRow[]> {
  return db
    .select()
    .from(canaries)
    .where(model !== undefined ? eq(canaries.model, model) : undefined)
    .orderBy(asc(canaries.createdAt), asc(canaries.id))
    .all()
    .map(rows.toCanary);
}

export async function removeCanary(db: Db, id: string): Promise<boolean> {
  return db.delete(canaries).where(eq(canaries.id, id)).returning({ id: canaries.id }).all().length > 0;
}

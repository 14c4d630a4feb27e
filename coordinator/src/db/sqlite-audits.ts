// Result verification on SQLite (issue 9): trust counts and quarantine, audits, canaries.
import { and, asc, desc, eq, inArray, isNotNull } from "drizzle-orm";
import { auditFilterWhere, auditOfJobWhere, releasePatch, trustPatch } from "./audit-query.ts";
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
    const { set, quarantined } = trustPatch(w, delta, policy, reason, now);
    const updated = tx.update(workers).set(set).where(eq(workers.nodeId, nodeId)).returning().get();
    return updated ? { worker: rows.toWorker(updated), quarantined } : null;
  });
}

export async function releaseWorker(db: Db, nodeId: string, policy: TrustPolicy): Promise<boolean> {
  const changed = db
    .update(workers)
    .set(releasePatch(policy))
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
  const row = db.select().from(audits).where(auditOfJobWhere(audits, jobId)).get();
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
  const query = db.select().from(audits).where(auditFilterWhere(audits, filter)).orderBy(desc(audits.createdAt), desc(audits.id));
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

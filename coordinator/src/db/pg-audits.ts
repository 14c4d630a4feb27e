// Result verification on Postgres (issue 9): trust counts and quarantine, audits, canaries.
import { and, asc, desc, eq, inArray, isNotNull } from "drizzle-orm";
import { auditFilterWhere, auditOfJobWhere, releasePatch, trustPatch } from "./audit-query.ts";
import type { Db } from "./pg-jobs.ts";
import type { AuditFilter, AuditRow, AuditStatus, CanaryRow, NewAudit, TrustPolicy, WorkerRow } from "./repository.ts";
import * as rows from "./rows.ts";
import { audits, canaries, workers } from "./schema-pg.ts";

export async function recordTrust(
  db: Db,
  nodeId: string,
  delta: { matches: number; mismatches: number },
  policy: TrustPolicy,
  reason: string,
  now: number,
): Promise<{ worker: WorkerRow; quarantined: boolean } | null> {
  return db.transaction(async (tx) => {
    // the row lock serialises concurrent outcomes for one worker (several coordinator instances)
    const [w] = await tx.select().from(workers).where(eq(workers.nodeId, nodeId)).for("update");
    if (!w) return null;
    const { set, quarantined } = trustPatch(w, delta, policy, reason, now);
    const [updated] = await tx.update(workers).set(set).where(eq(workers.nodeId, nodeId)).returning();
    return updated ? { worker: rows.toWorker(updated), quarantined } : null;
  });
}

export async function releaseWorker(db: Db, nodeId: string, policy: TrustPolicy): Promise<boolean> {
  const changed = await db
    .update(workers)
    .set(releasePatch(policy))
    .where(and(eq(workers.nodeId, nodeId), isNotNull(workers.quarantinedAt)))
    .returning({ nodeId: workers.nodeId });
  return changed.length > 0;
}

export async function insertAudit(db: Db, row: NewAudit): Promise<boolean> {
  return (await db.insert(audits).values(row).onConflictDoNothing().returning({ id: audits.id })).length > 0;
}

export async function getAudit(db: Db, id: string): Promise<AuditRow | null> {
  const [row] = await db.select().from(audits).where(eq(audits.id, id));
  return row ? rows.toAudit(row) : null;
}

export async function findAuditByJob(db: Db, jobId: string): Promise<AuditRow | null> {
  const [row] = await db.select().from(audits).where(auditOfJobWhere(audits, jobId)).limit(1);
  return row ? rows.toAudit(row) : null;
}

export async function updateAudit(
  db: Db,
  id: string,
  from: AuditStatus[],
  patch: Partial<Omit<AuditRow, "id" | "kind">>,
): Promise<AuditRow | null> {
  const [row] = await db
    .update(audits)
    .set(rows.definedOnly(patch))
    .where(and(eq(audits.id, id), inArray(audits.status, from)))
    .returning();
  return row ? rows.toAudit(row) : null;
}

export async function listAudits(db: Db, filter: AuditFilter = {}): Promise<AuditRow[]> {
  const query = db.select().from(audits).where(auditFilterWhere(audits, filter)).orderBy(desc(audits.createdAt), desc(audits.id));
  return (filter.limit !== undefined ? await query.limit(filter.limit) : await query).map(rows.toAudit);
}

export async function addCanary(db: Db, row: CanaryRow): Promise<void> {
  await db.insert(canaries).values(row);
}

export async function listCanaries(db: Db, model?: string): Promise<CanaryRow[]> {
  const found = await db
    .select()
    .from(canaries)
    .where(model !== undefined ? eq(canaries.model, model) : undefined)
    .orderBy(asc(canaries.createdAt), asc(canaries.id));
  return found.map(rows.toCanary);
}

export async function removeCanary(db: Db, id: string): Promise<boolean> {
  return (await db.delete(canaries).where(eq(canaries.id, id)).returning({ id: canaries.id })).length > 0;
}

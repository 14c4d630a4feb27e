// A fake Repository for dashboard tests: only what the dashboard reads, from plain arrays.
import type { JobFilter, JobRow, LedgerEntry, LedgerFilter, Repository, WorkerRow } from "../db/repository.ts";

export interface FakeData {
  workers: WorkerRow[];
  jobs: JobRow[];
  ledger: LedgerEntry[];
}

const inRange = (e: LedgerEntry, f: LedgerFilter) =>
  (f.nodeId === undefined || e.nodeId === f.nodeId) &&
  (f.ownerId === undefined || e.ownerId === f.ownerId) &&
  (f.since === undefined || e.at >= f.since) &&
  (f.until === undefined || e.at < f.until);

export function fakeRepository(data: FakeData): Repository {
  const fake = {
    dialect: "sqlite" as const,
    listWorkers: async () => data.workers,
    listJobs: async (f: JobFilter = {}) => {
      const rows = data.jobs
        .filter((j) => (!f.status || f.status.includes(j.status)) && (f.workerId === undefined || j.workerId === f.workerId))
        .sort((a, b) => b.createdAt - a.createdAt);
      return f.limit !== undefined ? rows.slice(0, f.limit) : rows;
    },
    countJobs: async (status: JobRow["status"]) => data.jobs.filter((j) => j.status === status).length,
    ledgerTotalsByNode: async () => {
      const nodes = [...new Set(data.ledger.map((e) => e.nodeId))];
      return new Map(await Promise.all(nodes.map(async (nodeId) => [nodeId, await fake.ledgerTotals({ nodeId })] as const)));
    },
    ledgerTotals: async (f: LedgerFilter) => {
      const rows = data.ledger.filter((e) => inRange(e, f));
      return {
        amountMicros: rows.reduce((s, e) => s + e.amountMicros, 0),
        jobs: rows.length,
        promptTokens: rows.reduce((s, e) => s + e.promptTokens, 0),
        completionTokens: rows.reduce((s, e) => s + e.completionTokens, 0),
      };
    },
    ledgerByDay: async (f: LedgerFilter, tz: number) => {
      const days = new Map<string, { day: string; amountMicros: number; jobs: number }>();
      for (const e of data.ledger.filter((x) => inRange(x, f))) {
        const day = new Date(e.at + tz * 60_000).toISOString().slice(0, 10);
        const d = days.get(day) ?? { day, amountMicros: 0, jobs: 0 };
        d.amountMicros += e.amountMicros;
        d.jobs++;
        days.set(day, d);
      }
      return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
    },
    listLedger: async (f: LedgerFilter & { limit?: number }) => data.ledger.filter((e) => inRange(e, f)).slice(0, f.limit),
  };
  return fake as unknown as Repository;
}

export function worker(over: Partial<WorkerRow> & { nodeId: string }): WorkerRow {
  return {
    clientId: null,
    name: null,
    ownerId: null,
    status: "idle",
    info: null,
    instanceId: null,
    lastHeartbeatAt: null,
    createdAt: 0,
    revokedAt: null,
    trust: 1,
    quarantinedAt: null,
    quarantineReason: null,
    auditMatches: 0,
    auditMismatches: 0,
    ...over,
  };
}

export function job(over: Partial<JobRow> & { id: string; createdAt: number }): JobRow {
  return {
    apiKeyId: null,
    model: "stories260K",
    request: {},
    status: "completed",
    priority: 0,
    attempts: 1,
    maxAttempts: 3,
    availableAt: over.createdAt,
    timeoutMs: 60_000,
    workerId: null,
    fence: null,
    leaseExpiresAt: null,
    originInstance: null,
    updatedAt: over.createdAt,
    startedAt: null,
    finishedAt: null,
    resultText: null,
    finishReason: null,
    promptTokens: null,
    completionTokens: null,
    error: null,
    purpose: "client",
    targetWorker: null,
    avoidWorkers: [],
    workerClass: null,
    ...over,
  };
}

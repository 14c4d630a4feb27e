// What the dashboard shows, computed from the repository (no request context here).
import type { JobRow, Repository, WorkerRow } from "../db/repository.ts";
import type { EarningsResponse, JobsResponse, JobView, Overview, ThroughputResponse, WorkersResponse, WorkerView } from "./model.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Enough recent completed jobs to cover the last hour of a busy grid. */
const RECENT_LIMIT = 10_000;
export const EARNINGS_DAYS = 30;
export const THROUGHPUT_MINUTES = 60;
export const JOBS_SHOWN = 50;

const utcDay = (t: number): string => new Date(t).toISOString().slice(0, 10);
const startOfUtcDay = (t: number): number => Math.floor(t / DAY) * DAY;

/** Completed jobs that finished at or after `since` (newest jobs first, bounded). */
async function finishedSince(repo: Repository, since: number): Promise<JobRow[]> {
  const jobs = await repo.listJobs({ status: ["completed"], limit: RECENT_LIMIT });
  return jobs.filter((j) => j.finishedAt !== null && j.finishedAt >= since);
}

export async function overview(repo: Repository, now: number): Promise<Overview> {
  const [workers, recent, queueDepth, running, today, total] = await Promise.all([
    repo.listWorkers(),
    finishedSince(repo, now - 10 * MINUTE),
    repo.countJobs("queued"),
    repo.countJobs("running"),
    repo.ledgerTotals({ since: startOfUtcDay(now) }),
    repo.ledgerTotals({}),
  ]);
  const counts = { total: 0, online: 0, idle: 0, busy: 0, paused: 0, throttled: 0, offline: 0, revoked: 0, quarantined: 0 };
  for (const w of workers) {
    counts.total++;
    if (w.revokedAt !== null) counts.revoked++;
    else {
      counts[w.status]++;
      if (w.quarantinedAt !== null) counts.quarantined++;
    }
  }
  const lastMinute = recent.filter((j) => (j.finishedAt as number) >= now - MINUTE);
  const tokens = lastMinute.reduce((sum, j) => sum + (j.completionTokens ?? 0), 0);
  return {
    at: now,
    workers: counts,
    jobsPerMinute: recent.length / 10,
    tokensPerSecond: tokens / 60,
    queueDepth,
    running,
    earnings: { todayMicros: today.amountMicros, totalMicros: total.amountMicros, totalJobs: total.jobs },
  };
}

/** gpu_info from the worker's `register` message, read defensively (it is stored JSON). */
function gpus(info: Record<string, unknown> | null): { name: string; vramMb: number | null; backend: string | null }[] {
  const list = info?.gpu_info;
  if (!Array.isArray(list)) return [];
  return list
    .filter((g): g is Record<string, unknown> => typeof g === "object" && g !== null)
    .map((g) => ({
      name: typeof g.name === "string" ? g.name : "unknown GPU",
      vramMb: typeof g.vram_mb === "number" ? g.vram_mb : null,
      backend: typeof g.backend === "string" ? g.backend : null,
    }));
}

function gpuLabel(list: { name: string }[]): string | null {
  if (list.length === 0) return null;
  const names = [...new Set(list.map((g) => g.name))];
  return names.length === 1 && list.length > 1 ? `${list.length}× ${names[0]}` : names.join(", ");
}

function workerView(w: WorkerRow, jobsCompleted: number, earningsMicros: number): WorkerView {
  const list = gpus(w.info);
  const backends = [...new Set(list.map((g) => g.backend).filter((b): b is string => b !== null))];
  const mode = w.info?.resource_mode;
  return {
    nodeId: w.nodeId,
    name: w.name ?? w.clientId,
    gpu: gpuLabel(list),
    vramMb: list.length > 0 ? list.reduce((sum, g) => sum + (g.vramMb ?? 0), 0) || null : null,
    backend: backends.length > 0 ? backends.join(", ") : null,
    mode: typeof mode === "string" ? mode : null,
    status: w.revokedAt !== null ? "revoked" : w.status,
    lastHeartbeatAt: w.lastHeartbeatAt,
    jobsCompleted,
    earningsMicros,
    trust: w.trust,
    quarantinedAt: w.quarantinedAt,
    quarantineReason: w.quarantineReason,
  };
}

const STATUS_ORDER: Record<WorkerView["status"], number> = {
  busy: 0,
  online: 1,
  idle: 2,
  throttled: 3,
  paused: 4,
  offline: 5,
  revoked: 6,
};

/**
 * Every enrolled worker with its totals from the ledger: jobsCompleted counts its credited jobs
 * (every completed job with output is credited exactly once), so one aggregate query over the
 * ledger replaces loading the workers' completed jobs.
 */
export async function workers(repo: Repository, now: number): Promise<WorkersResponse> {
  const [rows, totals] = await Promise.all([repo.listWorkers(), repo.ledgerTotalsByNode()]);
  const views = rows.map((w) => workerView(w, totals.get(w.nodeId)?.jobs ?? 0, totals.get(w.nodeId)?.amountMicros ?? 0));
  views.sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      (b.lastHeartbeatAt ?? 0) - (a.lastHeartbeatAt ?? 0) ||
      a.nodeId.localeCompare(b.nodeId),
  );
  return { at: now, workers: views };
}

/**
 * The repository with listJobs answered from a cache for `ttlMs`: the page asks for several views
 * at once every 2 s, and overview and throughput read the same recent completed jobs.
 */
export function withJobCache(repo: Repository, now: () => number, ttlMs = 1000): Repository {
  const cache = new Map<string, { at: number; rows: Promise<JobRow[]> }>();
  const listJobs: Repository["listJobs"] = (filter) => {
    const key = JSON.stringify(filter ?? {});
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.rows;
    if (cache.size > 32) cache.clear();
    const rows = repo.listJobs(filter);
    cache.set(key, { at: now(), rows });
    rows.catch(() => cache.delete(key));
    return rows;
  };
  return new Proxy(repo, {
    get(target, prop) {
      if (prop === "listJobs") return listJobs;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function jobView(j: JobRow, names: Map<string, string | null>): JobView {
  return {
    id: j.id,
    status: j.status,
    model: j.model,
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
    latencyMs: j.finishedAt !== null ? Math.max(0, j.finishedAt - j.createdAt) : null,
    workerId: j.workerId,
    worker: j.workerId ? (names.get(j.workerId) ?? null) : null,
    promptTokens: j.promptTokens,
    completionTokens: j.completionTokens,
    retries: Math.max(0, j.attempts - 1),
    error: j.error ? `${j.error.code}: ${j.error.message}` : null,
    purpose: j.purpose,
  };
}

export async function recentJobs(repo: Repository, now: number, limit = JOBS_SHOWN): Promise<JobsResponse> {
  const [rows, workerRows] = await Promise.all([repo.listJobs({ limit }), repo.listWorkers()]);
  const names = new Map(workerRows.map((w) => [w.nodeId, w.name ?? w.clientId]));
  return { at: now, jobs: rows.map((j) => jobView(j, names)) };
}

/** Credits per UTC day for the last EARNINGS_DAYS days, today included, zero-filled. */
export async function earningsByDay(repo: Repository, now: number): Promise<EarningsResponse> {
  const first = startOfUtcDay(now) - (EARNINGS_DAYS - 1) * DAY;
  const rows = await repo.ledgerByDay({ since: first }, 0);
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const days: EarningsResponse["days"] = [];
  for (let i = 0; i < EARNINGS_DAYS; i++) {
    const day = utcDay(first + i * DAY);
    const row = byDay.get(day);
    days.push({ day, amountMicros: row?.amountMicros ?? 0, jobs: row?.jobs ?? 0 });
  }
  return { at: now, days };
}

/** Completion tokens of finished jobs per minute, the last THROUGHPUT_MINUTES minutes (this one included). */
export async function throughput(repo: Repository, now: number): Promise<ThroughputResponse> {
  const current = Math.floor(now / MINUTE) * MINUTE;
  const first = current - (THROUGHPUT_MINUTES - 1) * MINUTE;
  const minutes = Array.from({ length: THROUGHPUT_MINUTES }, (_, i) => ({ t: first + i * MINUTE, tokens: 0, jobs: 0 }));
  for (const j of await finishedSince(repo, first)) {
    const bucket = minutes[Math.floor(((j.finishedAt as number) - first) / MINUTE)];
    if (!bucket) continue; // finished "in the future" (clock skew between instances)
    bucket.tokens += j.completionTokens ?? 0;
    bucket.jobs++;
  }
  return { at: now, minutes };
}

// Wires one coordinator instance: PKI, database, event bus, job service, scheduler, both ports.
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { Elysia } from "elysia";
import postgres from "postgres";
import { errorHandling } from "./api/app.ts";
import { declaredTooLarge } from "./api/body.ts";
import { jobRoutes } from "./api/jobs/index.ts";
import { openAiRoutes } from "./api/openai/index.ts";
import { type ApiLimits, bodyLimit } from "./api/openai/service.ts";
import { AuditService } from "./audit/service.ts";
import type { Config } from "./config/settings.ts";
import { dashboardRoutes } from "./dashboard/index.ts";
import { openRepository } from "./db/open.ts";
import type { Repository, WorkerRow } from "./db/repository.ts";
import { reconcileCredits } from "./earnings/reconcile.ts";
import { enrolmentRoutes } from "./enrolment/index.ts";
import { Gateway } from "./gateway/server.ts";
import type { WorkerSession } from "./gateway/session.ts";
import { type Bus, LocalBus, PgBus, type WorkerPush } from "./jobs/bus.ts";
import { DAY_MS, pruneFinishedJobs } from "./jobs/retention.ts";
import { Scheduler } from "./jobs/scheduler.ts";
import { JobService } from "./jobs/service.ts";
import { CoordinatorMetrics, httpMetrics, metricsRoutes, type WorkerState } from "./metrics/index.ts";
import { openApiDocs } from "./openapi/index.ts";
import { loadOrCreatePki, type Pki } from "./pki/index.ts";
import { ReleaseService } from "./updates/service.ts";

export type LogFn = (level: "debug" | "info" | "warn" | "error", message: string) => void;

export interface Coordinator {
  instanceId: string;
  apiUrl: string;
  workerUrl: string;
  repo: Repository;
  pki: Pki;
  jobs: JobService;
  gateway: Gateway;
  scheduler: Scheduler;
  metrics: CoordinatorMetrics;
  /** Result verification (issue 9): audits, canaries, trust and quarantine. */
  audit: AuditService;
  /** Signed worker releases offered to connected workers (issue 7). */
  releases: ReleaseService;
  /**
   * Sends a command (pause / resume / restart) or config change to one worker or, with
   * nodeId null, to all, wherever their sockets are. Resolves once published.
   */
  pushToWorkers(nodeId: string | null, message: WorkerPush): Promise<void>;
  /** Revokes the node's certificates and closes its live sockets on every instance. */
  revokeWorker(nodeId: string, reason: string): Promise<string[]>;
  stop(): Promise<void>;
}

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

export function consoleLog(min: keyof typeof LEVELS): LogFn {
  return (level, message) => {
    if (LEVELS[level] >= LEVELS[min]) process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${message}\n`);
  };
}

function hostForUrl(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

async function openBus(repo: Repository, url: string): Promise<{ bus: Bus; close: () => Promise<void> }> {
  if (repo.dialect !== "postgres") return { bus: new LocalBus(), close: async () => {} };
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const bus = await PgBus.open({
    listen: (channel, fn) => sql.listen(channel, fn),
    notify: (channel, payload) => sql.notify(channel, payload),
  });
  return {
    bus,
    close: async () => {
      await bus.close();
      await sql.end({ timeout: 2 });
    },
  };
}

export async function startCoordinator(
  config: Config,
  log: LogFn = consoleLog(config.logLevel as keyof typeof LEVELS),
): Promise<Coordinator> {
  mkdirSync(config.dataDir, { recursive: true });
  const pki = await loadOrCreatePki(join(config.dataDir, "pki"), { serverNames: config.serverNames });
  if (pki.changes.caCreated)
    log("info", `created a new CA at ${join(config.dataDir, "pki", "ca.crt")}: back up ${join(config.dataDir, "pki")}`);
  const dbUrl = config.databaseUrl || join(config.dataDir, "gogrid.db");
  // a long-running process: SQLite's WAL checkpoints (and their fsync) move off the event loop
  const repo = await openRepository(dbUrl, { dataDir: config.dataDir, backgroundCheckpoints: { log } });
  const { bus, close: closeBus } = await openBus(repo, dbUrl);
  const instanceId = config.instanceId || crypto.randomUUID();
  const leaseMs = config.leaseSecs * 1000;

  // A scrape starts both worker gauges' reads before awaiting either: they share one read of the table.
  let workersRead: Promise<WorkerRow[]> | null = null;
  const scrapeWorkers = (): Promise<WorkerRow[]> =>
    (workersRead ??= repo.listWorkers().finally(() => {
      workersRead = null;
    }));
  const metrics = new CoordinatorMetrics({
    defaultMetrics: true,
    workerCounts: async () => {
      const counts: Partial<Record<WorkerState, number>> = {};
      for (const w of await scrapeWorkers()) if (w.revokedAt === null) counts[w.status] = (counts[w.status] ?? 0) + 1;
      return counts;
    },
    queueDepth: () => repo.countJobs("queued"),
    quarantinedCount: async () => (await scrapeWorkers()).filter((w) => w.quarantinedAt !== null && w.revokedAt === null).length,
    onCollectError: (source, e) => log("warn", `metrics ${source}: ${(e as Error).message}`),
  });
  const audit = new AuditService(
    repo,
    bus,
    {
      fraction: config.auditFraction,
      deterministicFraction: config.auditDeterministicFraction,
      canaryFraction: config.auditCanaryFraction,
      prior: config.auditTrustPrior,
      threshold: config.auditTrustThreshold,
      maxAttempts: config.maxAttempts,
      timeoutMs: config.jobTimeoutSecs * 1000,
      staleMs: config.auditStaleSecs * 1000,
    },
    { metrics, log, instanceId },
  );
  const jobs = new JobService(repo, bus, {
    metrics,
    prepare: (id, input) => audit.prepare(id, input),
    instanceId,
    queueLimit: config.queueLimit,
    maxAttempts: config.maxAttempts,
    timeoutMs: config.jobTimeoutSecs * 1000,
  });
  // Certificates revoked before this start are refused at the TLS handshake; later ones by the
  // application check (Bun cannot swap a listener's CRL without a restart).
  const revoked = await repo.listRevokedCertificates();
  const crl =
    revoked.length > 0 ? await pki.crlPem(revoked.map((r) => ({ serial: r.serial, revokedAt: r.revokedAt ?? Date.now() }))) : undefined;
  const releases = new ReleaseService({
    dir: config.releasesDir || join(config.dataDir, "releases"),
    workerBaseUrl: () => `https://${hostForUrl(config.workerHost)}:${gateway.port}`,
    log,
  });
  const offered = new WeakMap<WorkerSession, string>();
  const offerUpdate = (s: WorkerSession) => {
    const offer = releases.offerFor({ nodeId: s.nodeId, ...s.release });
    if (!offer || offered.get(s) === offer.version) return;
    offered.set(s, offer.version);
    s.push(offer);
  };
  const gateway: Gateway = new Gateway({
    releases,
    ready: offerUpdate,
    updateComplete: (_s, m) => metrics.workerUpdate(m.ok ? "ok" : (m.error?.code ?? "failed")),
    host: config.workerHost,
    port: config.workerPort,
    tls: { cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caCertPem, ...(crl ? { crl } : {}) },
    repo,
    bus,
    instanceId,
    heartbeatSecs: config.heartbeatSecs,
    metrics,
    renewCertificate: async (nodeId, csr) => {
      const cert = await pki.signCsr(csr, nodeId);
      const row = { serial: cert.serial, nodeId, pem: cert.pem, notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() };
      await repo.insertCertificate(row);
      return { pem: cert.pem, serial: cert.serial, notAfter: row.notAfter };
    },
    modelUrl: (sha256: string): string => `https://${hostForUrl(config.workerHost)}:${gateway.port}/models/${sha256}`,
    leaseMs,
    retryBaseMs: config.retryBaseMs,
    log,
    now: Date.now,
  });
  const scheduler = new Scheduler(
    repo,
    bus,
    { leaseMs, retryBaseMs: config.retryBaseMs, offlineAfterMs: config.offlineAfterSecs * 1000, metrics },
    () => gateway.slots(),
  );
  gateway.onWorkAvailable = () => scheduler.trigger();
  releases.watch(config.updateCheckSecs * 1000, () => {
    for (const s of gateway.slots() as WorkerSession[]) offerUpdate(s);
  });
  // a job completed but not credited (this or another instance killed in between) is credited here
  const reconcile = (settleMs?: number) =>
    reconcileCredits(repo, Date.now(), settleMs === undefined ? {} : { settleMs }).then(
      (n) => n > 0 && log("warn", `credited ${n} completed job(s) that had missed their credit`),
      (e) => log("error", `credit reconciliation: ${(e as Error).message}`),
    );
  // at start: whatever this instance completed before it was killed
  let reconciling: Promise<unknown> = reconcile(0);
  // finished jobs past jobs.retention_days, once a minute (one sweep at a time)
  let pruning: Promise<unknown> | null = null;
  const prune = () => {
    pruning ??= pruneFinishedJobs(repo, Date.now(), config.retentionDays * DAY_MS)
      .then(
        (n) => n > 0 && log("info", `deleted ${n} finished job(s) older than ${config.retentionDays} day(s)`),
        (e) => log("error", `job retention: ${(e as Error).message}`),
      )
      .finally(() => {
        pruning = null;
      });
  };
  prune(); // at start too: a coordinator restarted more often than once a minute still prunes
  let ticks = 0;
  const tick = setInterval(() => {
    scheduler.tick().catch((e) => log("error", `scheduler: ${(e as Error).message}`));
    if (++ticks % 2 === 0) {
      gateway.sweep(repo).catch((e) => log("error", `gateway sweep: ${(e as Error).message}`));
      jobs.sweep().catch((e) => log("error", `job sweep: ${(e as Error).message}`));
    }
    if (ticks % 5 === 0) audit.sweep().catch((e) => log("error", `audit sweep: ${(e as Error).message}`));
    if (ticks % 30 === 0) reconciling = reconcile();
    if (ticks % 60 === 0) prune();
  }, 1000);

  const workerUrl = `wss://${hostForUrl(config.workerHost)}:${gateway.port}`;
  const limits: ApiLimits = { maxPromptChars: config.maxPromptChars, maxTokens: config.maxTokens };
  const app = new Elysia()
    .use(httpMetrics(metrics)) // first: it only sees routes added after it
    .use(errorHandling((level, message) => log(level, message)))
    .use(metricsRoutes(metrics, config.metricsToken ? { token: config.metricsToken } : {}))
    .use(openApiDocs(config.publicUrl ? { serverUrl: config.publicUrl } : {}))
    .use(
      dashboardRoutes({
        repo,
        dataDir: config.dataDir,
        // which grid this is, beside the GoGrid brand in the header
        gridName: config.publicUrl ? new URL(config.publicUrl).host : hostname(),
        secureCookies: config.publicUrl.startsWith("https:"),
        clientIp: (req: Request): string | undefined => api.requestIP(req)?.address,
      }),
    )
    .get("/healthz", () => ({ ok: true, instance: instanceId }))
    .use(openAiRoutes({ repo, jobs, limits }))
    .use(jobRoutes({ repo, jobs, limits, cancel: (id, reason) => jobs.cancel(id, reason) }))
    .use(enrolmentRoutes({ repo, pki, workerUrl: () => workerUrl }));
  // (the dashboard's clientIp above reads `api` per request, after this line has run)
  const maxBody = bodyLimit(limits);
  const api: Server<undefined> = Bun.serve({
    hostname: config.apiHost,
    port: config.apiPort,
    // a last line behind the per-route caps: no declared body larger than the largest allowed request is read
    // (Bun's own maxRequestBodySize would answer first, without the OpenAI-shaped error)
    fetch: (req) => {
      const refused = declaredTooLarge(req, maxBody);
      // the client API and enrolment check their own (smaller) caps after the key or token
      if (!refused || /^\/(v1|api\/v1)\//.test(new URL(req.url).pathname)) return app.handle(req);
      return refused.response();
    },
    idleTimeout: 0,
  });
  const apiUrl = config.publicUrl || `http://${hostForUrl(config.apiHost)}:${api.port}`;
  log("info", `coordinator ${instanceId}: API ${apiUrl}, workers ${workerUrl}, database ${repo.dialect}`);

  return {
    instanceId,
    apiUrl,
    workerUrl,
    repo,
    pki,
    jobs,
    gateway,
    scheduler,
    metrics,
    audit,
    releases,
    pushToWorkers: (nodeId, message) => bus.publish({ kind: "worker_push", nodeId, message }),
    async revokeWorker(nodeId, reason) {
      const serials = await repo.revokeWorker(nodeId, reason, Date.now());
      await bus.publish({ kind: "worker_revoked", nodeId });
      return serials;
    },
    async stop() {
      clearInterval(tick);
      await reconciling;
      await pruning;
      releases.stop();
      scheduler.close();
      await audit.close();
      jobs.close();
      await api.stop(true);
      await gateway.stop();
      await closeBus();
      await repo.close();
    },
  };
}

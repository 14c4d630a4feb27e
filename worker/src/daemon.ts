// The running worker: identity, engine, coordinator link, jobs, resources and the control API.
import { arch, availableParallelism, hostname, platform } from "node:os";
import { join } from "node:path";
import { LlamaEngine } from "@gogrid/native";
import { type CoordinatorToWorker, type GpuInfo, type ModelRef, SINCE } from "@gogrid/protocol";
import { setConfigValue, type WorkerConfig } from "./config.ts";
import { Connection, type LinkState } from "./connection.ts";
import { type ControlServer, serveControl } from "./control.ts";
import { detectGpus, engineGpus } from "./gpus.ts";
import { enrol, type Identity, loadIdentity, needsRenewal, renewalRequest, storeRenewed } from "./identity.ts";
import type { Logger } from "./log.ts";
import { ModelCache } from "./models/cache.ts";
import { downloadWithRetry } from "./models/download.ts";
import type { WorkerPaths } from "./paths.ts";
import { applyServerCommand, PauseControl, ResourceMonitor, YieldWatcher } from "./resources/index.ts";
import { JobRunner, type ModelProvider } from "./runner.ts";
import { threadsFor } from "./threads.ts";
import { daemonUpdaterOptions } from "./update/for-daemon.ts";
import { Updater } from "./update/updater.ts";
import { WORKER_VERSION } from "./version.ts";

export interface DaemonOptions {
  config: WorkerConfig;
  paths: WorkerPaths;
  logger: Logger;
  /** Enrolment token (flag or env) when the worker is not enrolled yet. */
  token?: string;
  /** Serve the local control API (default true). */
  control?: boolean;
  /** Renew the certificate when it expires within this long (default 30 days). */
  renewWithinMs?: number;
  /** Called for `command: restart` and the control API's restart (default: exit 75 for the supervisor). */
  onRestart?: () => void;
  /** Tests: a watcher with fake GPU/full-screen probes, free memory for max_concurrent_jobs = "auto". */
  resources?: { yieldWatcher?: YieldWatcher; freeMemory?: (onGpu: boolean) => number };
}

function osName(): "linux" | "darwin" | "win32" {
  const p = platform();
  return p === "darwin" || p === "win32" ? p : "linux";
}

export class WorkerDaemon {
  identity!: Identity;
  engine!: LlamaEngine;
  runner!: JobRunner;
  link!: Connection;
  readonly pauses = new PauseControl();
  /** Self-update (issue 7); null until start(). */
  updater: Updater | null = null;
  private draining = false;
  monitor!: ResourceMonitor;
  /** Yields to GPU programs and full-screen applications ([resources] yield_*). */
  yielder!: YieldWatcher;
  /** max_concurrent_jobs as last sent in `register`. */
  private registeredCapacity = 0;
  private cache!: ModelCache;
  private control: ControlServer | null = null;
  private readonly startedAt = Date.now();
  linkState: LinkState = "disconnected";
  private earnings = { today: "0", week: "0", month: "0", total: "0", currency: "USD" };
  private lastStatus = "";
  /** Adaptive throttling on (from config.toml, changeable from the tray). */
  private throttling = true;
  /** Sent in `register`: llama.cpp's GPU devices, or the machine's graphics controllers. */
  gpus: GpuInfo[] = [];

  constructor(private readonly o: DaemonOptions) {}

  get paths(): WorkerPaths {
    return this.o.paths;
  }

  private get log() {
    return this.o.logger.log;
  }

  async start(): Promise<void> {
    const { config, paths } = this.o;
    this.identity = (await loadIdentity(paths.identityDir)) ?? (await this.enrol());
    this.engine = await LlamaEngine.open({
      backend: config.worker.backend,
      logLevel: config.logging.level === "debug" ? "info" : "error",
      logSink: (l, m) => this.log(l, `llama: ${m}`),
    });
    for (const t of this.engine.choice.tried)
      this.log(t.ok ? "info" : "warn", `backend ${t.name}: ${t.ok ? "chosen" : "skipped"} (${t.reason})`);
    this.gpus = await detectGpus(this.engine);
    this.cache = new ModelCache(paths.modelsDir, { maxBytes: Math.round(config.worker.model_cache_gb * 2 ** 30) });
    this.runner = new JobRunner({
      engine: this.engine,
      models: this.modelProvider(),
      send: (m) => this.link.send(m),
      maxConcurrent: config.worker.max_concurrent_jobs,
      contextSize: config.worker.context_size,
      threads: config.worker.threads || threadsFor(config.resources.mode, availableParallelism()),
      log: this.log,
      ...(this.o.resources?.freeMemory ? { freeMemory: this.o.resources.freeMemory } : {}),
    });
    // "auto": what `register` reports before a model is loaded, sized for the largest cached one
    await this.runner.estimate(this.cache.list().map((m) => ({ path: this.cache.pathFor(m.sha256), size: m.size })));
    this.yielder =
      this.o.resources?.yieldWatcher ??
      new YieldWatcher({
        gpuApps: config.resources.yield_to_gpu_apps,
        fullscreen: config.resources.yield_to_fullscreen,
        quietSecs: config.resources.yield_quiet_secs,
        busy: () => this.runner.active > 0 || this.runner.modelLoaded,
      });
    if (config.resources.yield_to_fullscreen && !this.yielder.detectsFullscreen)
      this.log(
        "info",
        `full-screen applications are not detected on this desktop (${osName()}${osName() === "linux" ? " without an X display" : ""})`,
      );
    this.monitor = new ResourceMonitor({
      mode: config.resources.mode,
      overrides: {
        ...(config.resources.cpu_threshold ? { cpu: config.resources.cpu_threshold } : {}),
        ...(config.resources.gpu_threshold ? { gpu: config.resources.gpu_threshold } : {}),
        ...(config.resources.memory_threshold ? { memory: config.resources.memory_threshold } : {}),
      },
      control: this.pauses,
      ownJobRunning: () => this.runner.active > 0,
      onError: (e) => this.log("debug", `load sample failed: ${(e as Error).message}`),
      yieldWatcher: this.yielder,
    });
    this.monitor.onChange(() => {
      this.applyYield();
      this.statusChanged();
    });
    this.yielder.start();
    this.throttling = config.resources.adaptive_throttling;
    if (this.throttling) this.monitor.start();
    this.link = new Connection({
      identity: () => this.identity,
      url: config.server.url || this.identity.workerUrl,
      workerVersion: WORKER_VERSION,
      registration: (v) => this.registration(v),
      heartbeat: () => this.heartbeat(),
      onMessage: (m) => this.onMessage(m),
      onState: (s, d) => {
        this.linkState = s;
        this.log(s === "connected" ? "info" : "debug", `link ${s}: ${d}`);
      },
      reconnectBaseMs: config.worker.reconnect_delay_secs * 1000,
      log: this.log,
    });
    this.updater = new Updater(
      daemonUpdaterOptions(config, paths, {
        tls: () => ({ cert: this.identity.certPem, key: this.identity.keyPem, ca: this.identity.caPem }),
        drain: () => this.drain(),
        undrain: () => {
          this.draining = false;
        },
        restart: () => this.restart(),
        report: (r) => this.link.send({ type: "update_complete", ...r }),
        log: this.log,
      }),
    );
    this.updater.startTrial();
    this.link.start();
    if (this.o.control !== false) this.control = serveControl(paths.controlEndpoint, this.controlHandlers());
  }

  private async enrol(): Promise<Identity> {
    const { config, paths } = this.o;
    const token = this.o.token ?? process.env.GOGRID_ENROLMENT_TOKEN ?? config.client.enrolment_token;
    if (!config.server.api_url)
      throw new Error("not enrolled yet and no coordinator address: set [server] api_url in config.toml or pass --server");
    const id = await enrol(paths.identityDir, config.server.api_url, token ?? "", config.client.name || hostname());
    this.log("info", `enrolled as node ${id.nodeId}`);
    return id;
  }

  private modelProvider(): ModelProvider {
    const tls = { cert: this.identity.certPem, key: this.identity.keyPem, ca: this.identity.caPem };
    return {
      path: async (ref: ModelRef, signal: AbortSignal) => {
        const cached = this.cache.get(ref.sha256);
        if (cached) return cached;
        if (!ref.url)
          throw Object.assign(new Error(`model ${ref.id} is not cached and the coordinator gave no URL`), { code: "model_unavailable" });
        this.log("info", `downloading model ${ref.id} (${ref.size ?? "?"} bytes)`);
        return downloadWithRetry(
          {
            url: ref.url,
            sha256: ref.sha256,
            id: ref.id,
            cache: this.cache,
            signal,
            tls,
            ...(ref.size ? { size: ref.size } : {}),
            onProgress: (got, total) => this.log("debug", `model ${ref.id}: ${got}/${total ?? "?"} bytes`),
          },
          { attempts: 5, backoffMs: 1000 },
        );
      },
    };
  }

  private registration(protocolVersion: number) {
    const cfg = this.o.config;
    this.registeredCapacity = this.runner.capacity;
    return {
      client_id: this.identity.clientId,
      gpu_info: engineGpus(this.engine),
      capabilities: { max_concurrent_jobs: this.registeredCapacity, models: this.cache.ids(), max_context: cfg.worker.context_size },
      resource_mode: this.monitor.mode,
      version: WORKER_VERSION,
      ...(protocolVersion >= SINCE.updateChannel ? { update_channel: cfg.worker.update_channel } : {}),
      os: osName(),
      utc_offset_minutes: -new Date().getTimezoneOffset(),
      arch: arch() === "arm64" ? ("arm64" as const) : ("x64" as const),
    };
  }

  status() {
    return this.monitor.status(this.runner.active);
  }

  private heartbeat() {
    const load = this.monitor.heartbeatLoad();
    const s = this.runner.stats;
    return {
      status: this.status(),
      stats: {
        ...load,
        jobs_running: this.runner.active,
        jobs_completed: s.jobsCompleted,
        tokens_generated: s.tokensGenerated,
        uptime_secs: Math.floor((Date.now() - this.startedAt) / 1000),
      },
    };
  }

  /** Yielding: free the model's memory once the running jobs end; done yielding: keep the next load. */
  private yielding = false;
  private applyYield(): void {
    const y = this.yielder.state;
    if (y.yielding === this.yielding) return;
    this.yielding = y.yielding;
    if (y.yielding) {
      this.log("info", `yielding: ${y.reason}; no new jobs, model unloaded once the running ones end`);
      this.runner.unloadWhenIdle(`yielding (${y.reason})`);
    } else {
      this.log("info", "done yielding: taking jobs again (the model loads with the next one)");
      this.runner.keepLoaded();
    }
  }

  /**
   * The coordinator reads max_concurrent_jobs only from `register`: when the loaded model changed
   * it ("auto"), register again by reconnecting once no job has run or arrived for 3 s (a job
   * assigned during the reconnect would cost an attempt).
   */
  private reregisterTimer: ReturnType<typeof setTimeout> | null = null;
  private scheduleReregister(): void {
    this.cancelReregister();
    if (this.runner.capacity === this.registeredCapacity) return;
    this.reregisterTimer = setTimeout(() => this.reregisterIfCapacityChanged(), 3000);
    this.reregisterTimer.unref();
  }

  private cancelReregister(): void {
    if (this.reregisterTimer) clearTimeout(this.reregisterTimer);
    this.reregisterTimer = null;
  }

  private reregisterIfCapacityChanged(): void {
    this.reregisterTimer = null;
    const now = this.runner.capacity;
    if (now === this.registeredCapacity || this.runner.active > 0 || this.linkState !== "connected") return;
    this.log("info", `max_concurrent_jobs is now ${now} (was ${this.registeredCapacity}): registering again`);
    this.link.stop();
    this.link.start();
  }

  private statusChanged(): void {
    const now = this.status();
    if (now !== this.lastStatus) {
      this.lastStatus = now;
      this.link?.beat();
    }
  }

  private onMessage(m: CoordinatorToWorker): void {
    switch (m.type) {
      case "job_assignment":
        this.cancelReregister();
        if (this.draining || !this.monitor.canAcceptJob() || this.runner.active >= this.runner.capacity) {
          this.monitor.noteRejected();
          const reason = this.monitor.isPaused() ? "paused" : "busy";
          this.link.send({ type: "job_reject", job_id: m.job_id, fence: m.fence, reason });
          return;
        }
        void this.runner.run(m).then(() => {
          this.statusChanged();
          if (this.runner.active === 0) this.scheduleReregister();
        });
        this.statusChanged();
        return;
      case "job_cancel":
        this.runner.cancel(m.job_id, m.fence);
        return;
      case "command":
        if (applyServerCommand(this.pauses, m) === "unhandled") this.restart();
        this.log("info", `coordinator command: ${m.action}${m.reason ? ` (${m.reason})` : ""}`);
        this.statusChanged();
        return;
      case "config_update":
        if (m.config.resource_mode) this.monitor.setMode(m.config.resource_mode);
        if (m.model_update) void this.prefetch(m.model_update);
        return;
      case "heartbeat_ack":
        this.earnings = m.earnings;
        return;
      case "welcome":
        void this.renewIfDue();
        this.updater?.registered();
        return;
      case "update_available":
        void this.updater?.offer(m);
        return;
      case "cert_renewed":
        void this.storeRenewal(m.certificate, m.cert_serial);
        return;
    }
  }

  private pendingRenewal: CryptoKeyPair | null = null;
  /** Certificates renewed since start. */
  renewals = 0;

  /** Asks for a new certificate when the current one is within renewWithinMs of expiry. */
  private async renewIfDue(): Promise<void> {
    if (this.pendingRenewal || !needsRenewal(this.identity, Date.now(), this.o.renewWithinMs)) return;
    const { keys, csr } = await renewalRequest(this.o.config.client.name || hostname());
    this.pendingRenewal = keys;
    this.log("info", `certificate expires ${new Date(this.identity.notAfter).toISOString()}: asking for a new one`);
    this.link.send({ type: "cert_renew", csr });
  }

  private async storeRenewal(certPem: string, serial: string): Promise<void> {
    const keys = this.pendingRenewal;
    this.pendingRenewal = null;
    if (!keys) return;
    this.identity = await storeRenewed(this.o.paths.identityDir, keys, certPem, serial);
    this.renewals++;
    this.log("info", `certificate renewed until ${new Date(this.identity.notAfter).toISOString()} (serial ${serial})`);
  }

  /** `model_update`: fetch a model ahead of the jobs that will need it. */
  private async prefetch(model: { id: string; url: string; sha256: string; size: number }): Promise<void> {
    try {
      await this.modelProvider().path(model, new AbortController().signal);
      this.log("info", `model ${model.id} is ready in the cache`);
    } catch (e) {
      this.log("warn", `could not prefetch model ${model.id}: ${(e as Error).message}`);
    }
  }

  private restart(): void {
    this.log("info", "restarting");
    (this.o.onRestart ?? (() => process.exit(75)))();
  }

  private controlHandlers() {
    return {
      status: () => ({
        state: this.linkState,
        status: this.status(),
        /** Why it is paused or throttled (e.g. "a full-screen application is running"), else null. */
        status_reason: this.monitor.statusReason(),
        node_id: this.identity.nodeId,
        coordinator: this.o.config.server.url || this.identity.workerUrl,
        mode: this.monitor.mode,
        backend: this.engine.backendName,
        gpus: this.gpus,
        adaptive_throttling: this.throttling,
        jobs_running: this.runner.active,
        jobs_completed: this.runner.stats.jobsCompleted,
        max_concurrent_jobs: this.runner.capacity,
        earned_today: this.earnings.today,
        currency: this.earnings.currency,
      }),
      stats: () => ({
        uptime_secs: Math.floor((Date.now() - this.startedAt) / 1000),
        runner: this.runner.stats,
        resources: this.monitor.stats(),
        earnings: this.earnings,
      }),
      pause: (b: { duration_secs?: number; reason?: string }) => {
        this.pauses.pause("local", {
          ...(b.duration_secs ? { durationSecs: b.duration_secs } : {}),
          reason: b.reason ?? "paused by the contributor",
        });
        this.statusChanged();
        return { status: this.status() };
      },
      resume: () => {
        this.pauses.resume("local");
        this.statusChanged();
        return { status: this.status() };
      },
      restart: () => {
        setTimeout(() => this.restart(), 50);
        return { restarting: true };
      },
      setMode: (mode: string) => {
        // applied at once, and kept for the next start (comments in config.toml stay)
        this.monitor.setMode(mode as "conservative" | "default" | "aggressive");
        setConfigValue(this.o.paths.configFile, "resources", "mode", mode);
        this.link?.beat();
        return { mode };
      },
      setThrottling: (enabled: boolean) => {
        this.throttling = enabled;
        if (enabled) this.monitor.start();
        else this.monitor.stop();
        setConfigValue(this.o.paths.configFile, "resources", "adaptive_throttling", enabled);
        return { adaptive_throttling: enabled };
      },
      logs: () => ({ path: this.o.logger.path ?? join(this.o.paths.logDir, "worker.log") }),
    };
  }

  /** Self-update: take no new jobs, resolve when the running ones have finished. */
  private async drain(): Promise<void> {
    this.draining = true;
    while (this.runner.active > 0) await Bun.sleep(200);
  }

  async stop(): Promise<void> {
    this.updater?.stop();
    this.control?.stop();
    this.yielder?.stop();
    this.cancelReregister();
    this.monitor?.dispose();
    this.runner?.cancelAll();
    this.link?.stop();
    await Bun.sleep(50);
    this.runner?.dispose();
  }
}

// One worker socket: hello → signed challenge → register → heartbeats and job attempts.
import {
  authChallengePayload,
  type CoordinatorToWorker,
  decodeWorkerMessage,
  encode,
  errorMessageFor,
  MAX_PROTOCOL_VERSION,
  MIN_PROTOCOL_VERSION,
  negotiateVersion,
  newNonce,
  SINCE,
  versionMismatchFor,
  type WorkerToCoordinator,
} from "@gogrid/protocol";
import type { JobRow, Repository } from "../db/repository.ts";
import { planCredit } from "../earnings/ledger.ts";
import type { EarningsCache } from "../earnings/summary-cache.ts";
import type { Bus } from "../jobs/bus.ts";
import { splitForBus } from "../jobs/bus.ts";
import { retryDelay, type WorkerSlot } from "../jobs/scheduler.ts";
import type { JobRequest } from "../jobs/types.ts";
import type { CoordinatorMetrics } from "../metrics/index.ts";
import { verifyChallengeSignature } from "../pki/verify.ts";
import type { HeartbeatBook } from "./heartbeats.ts";

export interface GatewayContext {
  repo: Repository;
  bus: Bus;
  instanceId: string;
  heartbeatSecs: number;
  metrics?: CoordinatorMetrics;
  /** Heartbeat times, written in batches. */
  heartbeats: HeartbeatBook;
  /** Earnings summaries for heartbeat_ack, kept in memory. */
  earnings: EarningsCache;
  /** Issues and stores a new certificate for the node from its CSR (renewal). */
  renewCertificate(nodeId: string, csr: string): Promise<{ pem: string; serial: string; notAfter: number }>;
  /** Where workers download a model the registry keeps as a local file (https on the worker port). */
  modelUrl(sha256: string): string;
  leaseMs: number;
  retryBaseMs: number;
  /** Scheduling pass wanted (a worker became free, or joined). */
  trigger(): void;
  /** A node finished its handshake: any older socket of the same node is closed. */
  registered(session: WorkerSession): void;
  /** After `welcome`: the worker is ready (self-update offers go out here). */
  ready?(session: WorkerSession): void;
  /** A worker reported the outcome of a self-update. */
  updateComplete?(
    session: WorkerSession,
    outcome: { version: string; previous_version: string; ok: boolean; error?: { code: string; message: string } },
  ): void;
  closed(session: WorkerSession): void;
  log(level: "info" | "warn" | "error", message: string): void;
  now(): number;
}

export interface SocketLike {
  send(data: string): unknown;
  close(code?: number, reason?: string): unknown;
}

interface Attempt {
  jobId: string;
  fence: string;
  attempt: number;
  nextSeqIn: number;
  nextSeqOut: number;
  text: string;
  lastExtend: number;
  timer: ReturnType<typeof setTimeout>;
  /** What crediting the job needs from its row (none of it changes after submission). */
  credit: Pick<JobRow, "model" | "purpose" | "apiKeyId">;
  /** The instance the job was submitted through (whose client waits for its chunks). */
  origin: string | null;
}

const HANDSHAKE_MS = 15_000;

/**
 * The heartbeat_ack frame from earnings already in JSON: the text encode() gives for
 * `{ type: "heartbeat_ack", server_time, earnings }` (a test holds them equal), without building
 * and serialising the object at every beat.
 */
export function heartbeatAckFrame(serverTime: number, earningsJson: string): string {
  return `{"type":"heartbeat_ack","server_time":${JSON.stringify(serverTime)},"earnings":${earningsJson}}`;
}
const MAX_INVALID = 5;

type Msg<T extends WorkerToCoordinator["type"]> = Extract<WorkerToCoordinator, { type: T }>;

export class WorkerSession implements WorkerSlot {
  state: "hello" | "auth" | "register" | "ready" | "closed" = "hello";
  nodeId = "";
  status = "connecting";
  capacity = 1;
  models: string[] = [];
  /** The contributor's clock, minutes east of UTC (from `register`). */
  utcOffsetMinutes = 0;
  /** Agreed in the handshake. */
  protocolVersion = 1;
  /** From `register`: what the worker runs, for self-update offers. */
  release = { version: "0.0.0", os: "linux", arch: "x64", channel: "stable" as "stable" | "beta" | "dev" };
  private nonce = "";
  private invalid = 0;
  readonly attempts = new Map<string, Attempt>();
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly socket: SocketLike,
  ) {
    this.handshakeTimer = setTimeout(() => {
      if (this.state !== "ready") {
        this.ctx.metrics?.wsError("handshake_timeout");
        this.fail("invalid_message", "handshake not finished in time");
      }
    }, HANDSHAKE_MS);
  }

  get running(): number {
    return this.attempts.size;
  }

  private send(message: CoordinatorToWorker): void {
    if (this.state === "closed") return;
    this.socket.send(encode(message));
  }

  /** Sends a fatal error (a snake_case code the worker can act on) and closes the socket. */
  fail(code: string, message: string): void {
    if (this.state === "closed") return;
    if (code === "unauthorized") this.ctx.metrics?.wsError("auth_failed");
    this.send({ type: "error", code, message, fatal: true });
    this.socket.close(1008, message.slice(0, 120));
  }

  private chain: Promise<void> = Promise.resolve();

  /** Handles frames one at a time, in the order they arrived. */
  receive(frame: string | Uint8Array): Promise<void> {
    this.chain = this.chain.then(() => this.onMessage(frame));
    return this.chain;
  }

  private async onMessage(frame: string | Uint8Array): Promise<void> {
    if (this.state === "closed") return;
    const decoded = decodeWorkerMessage(frame);
    if (!decoded.ok) {
      this.ctx.metrics?.wsError("invalid_frame");
      this.invalid++;
      this.send(errorMessageFor(decoded.error));
      if (decoded.error.fatal || this.invalid >= MAX_INVALID) this.socket.close(1008, "invalid messages");
      return;
    }
    const m = decoded.message;
    try {
      if (this.state === "hello") await this.expect(m, "hello", (h) => this.onHello(h));
      else if (this.state === "auth") await this.expect(m, "auth_response", (a) => this.onAuth(a));
      else if (this.state === "register") await this.expect(m, "register", (r) => this.onRegister(r));
      else await this.onReady(m);
    } catch (e) {
      this.ctx.log("error", `worker ${this.nodeId || "(unauthenticated)"}: ${(e as Error).stack ?? e}`);
    }
  }

  private expect<T extends WorkerToCoordinator["type"]>(m: WorkerToCoordinator, type: T, handle: (m: Msg<T>) => unknown): unknown {
    if (m.type !== type) {
      this.fail("invalid_message", `expected ${type} during the handshake, got ${m.type}`);
      return;
    }
    return handle(m as Msg<T>);
  }

  private onHello(m: Msg<"hello">): void {
    const v = negotiateVersion(m.min_protocol_version, m.max_protocol_version, MIN_PROTOCOL_VERSION, MAX_PROTOCOL_VERSION);
    if (!v.ok) {
      this.send(versionMismatchFor(v.error));
      this.socket.close(1008, "unsupported protocol version");
      return;
    }
    this.nonce = newNonce();
    this.state = "auth";
    this.protocolVersion = v.version;
    this.send({ type: "auth_challenge", nonce: this.nonce, protocol_version: v.version });
  }

  private async onAuth(m: Msg<"auth_response">): Promise<void> {
    const now = this.ctx.now();
    const cert = m.cert_serial ? await this.ctx.repo.getCertificate(m.cert_serial.toLowerCase()) : null;
    if (!cert) return this.fail("unauthorized", "unknown client certificate: enrol again");
    if (cert.revokedAt !== null) return this.fail("unauthorized", "this certificate has been revoked");
    if (now > cert.notAfter || now < cert.notBefore) return this.fail("unauthorized", "this certificate is expired: enrol again");
    const ok = await verifyChallengeSignature(cert.pem, authChallengePayload(this.nonce), m.signature);
    if (!ok) return this.fail("unauthorized", "the challenge signature does not match the certificate's key");
    const worker = await this.ctx.repo.getWorker(cert.nodeId);
    if (!worker || worker.revokedAt !== null) return this.fail("unauthorized", "this worker has been revoked");
    this.nodeId = cert.nodeId;
    this.state = "register";
  }

  private async onRegister(m: Msg<"register">): Promise<void> {
    this.capacity = m.capabilities.max_concurrent_jobs;
    this.utcOffsetMinutes = m.utc_offset_minutes ?? 0;
    this.release = { version: m.version, os: m.os, arch: m.arch, channel: m.update_channel ?? "stable" };
    this.models = m.capabilities.models;
    const { type: _t, id: _i, ts: _ts, ...info } = m;
    await this.ctx.repo.updateWorker(this.nodeId, {
      status: "idle",
      info,
      instanceId: this.ctx.instanceId,
      lastHeartbeatAt: this.ctx.now(),
    });
    this.ctx.heartbeats.registered(this.nodeId, "idle");
    clearTimeout(this.handshakeTimer);
    this.state = "ready";
    this.status = "idle";
    this.ctx.registered(this);
    this.send({ type: "welcome", node_id: this.nodeId, heartbeat_interval: this.ctx.heartbeatSecs, config: {} });
    this.ctx.log(
      "info",
      `worker ${this.nodeId} registered (${m.gpu_info.map((g) => g.name).join(", ") || "no GPU"}, ${this.capacity} slots)`,
    );
    this.ctx.ready?.(this);
    this.ctx.trigger();
  }

  private async onReady(m: WorkerToCoordinator): Promise<void> {
    switch (m.type) {
      case "heartbeat": {
        const was = this.status;
        this.status = m.status;
        const now = this.ctx.now();
        const written = this.ctx.heartbeats.beat(this.nodeId, m.status, now);
        if (written) await written;
        const json = this.ctx.earnings.cachedJson(this.nodeId, this.utcOffsetMinutes, now);
        if (json === undefined) {
          const earnings = await this.ctx.earnings.summary(this.nodeId, this.utcOffsetMinutes, now);
          this.send({ type: "heartbeat_ack", server_time: now, earnings });
        } else if (this.state !== "closed") this.socket.send(heartbeatAckFrame(now, json));
        if (was !== m.status && m.status === "idle") this.ctx.trigger();
        return;
      }
      case "job_accept":
        return;
      case "job_reject": {
        const a = this.take(m.job_id, m.fence);
        if (a) await this.endAttempt(a, { code: `rejected_${m.reason}`, message: m.detail ?? m.reason }, 0);
        return;
      }
      case "job_chunk":
        return this.onChunk(m);
      case "job_result":
        return this.onResult(m);
      case "update_complete":
        this.ctx.log(m.ok ? "info" : "warn", `worker ${this.nodeId} update to ${m.version}: ${m.ok ? "ok" : m.error?.message}`);
        this.ctx.updateComplete?.(this, m);
        return;
      case "error":
        this.ctx.log("warn", `worker ${this.nodeId} reports ${m.code}: ${m.message}`);
        return;
      case "cert_renew": {
        try {
          const cert = await this.ctx.renewCertificate(this.nodeId, m.csr);
          this.send({ type: "cert_renewed", certificate: cert.pem, cert_serial: cert.serial, not_after: cert.notAfter });
          this.ctx.log("info", `worker ${this.nodeId} renewed its certificate (serial ${cert.serial})`);
        } catch (e) {
          const err = e as Error & { code?: string };
          this.send({
            type: "error",
            code: err.code === "invalid_csr" ? "invalid_csr" : "renewal_failed",
            message: err.message.slice(0, 500),
            fatal: false,
          });
        }
        return;
      }
      default:
        this.fail("invalid_message", `${m.type} is not expected after registration`);
    }
  }

  private async onChunk(m: Msg<"job_chunk">): Promise<void> {
    const a = this.attempts.get(m.job_id);
    if (!a || a.fence !== m.fence || m.seq !== a.nextSeqIn) return; // late, stale or duplicate
    a.nextSeqIn++;
    a.text += m.text;
    // not awaited: the next chunk need not wait for other instances to be told (with Postgres, a
    // NOTIFY); events keep their order, and a lost one is made good by the final text
    // a job submitted through this instance: its waiter is here, no other instance needs the chunk
    const localOnly = a.origin === this.ctx.instanceId;
    for (const piece of splitForBus(m.text)) {
      this.ctx.bus
        .publish(
          { kind: "job_event", jobId: a.jobId, event: { type: "chunk", attempt: a.attempt, seq: a.nextSeqOut++, text: piece } },
          { localOnly },
        )
        .catch((e: Error) => this.ctx.log("warn", `job ${a.jobId}: a chunk did not reach the other instances: ${e.message}`));
    }
    const now = this.ctx.now();
    if (now - a.lastExtend > this.ctx.leaseMs / 3) {
      a.lastExtend = now;
      if (!(await this.ctx.repo.extendLease(a.jobId, a.fence, now + this.ctx.leaseMs))) {
        // the lease ran out and the job went elsewhere: stop this copy
        this.take(a.jobId, a.fence);
        this.send({ type: "job_cancel", job_id: a.jobId, fence: a.fence, reason: "reassigned" });
      }
    }
  }

  private async onResult(m: Msg<"job_result">): Promise<void> {
    const a = this.take(m.job_id, m.fence);
    if (!a) return; // a result for an attempt that is no longer ours: fenced out
    if (m.status === "completed") {
      const now = this.ctx.now();
      const result = {
        text: m.text ?? a.text,
        finishReason: m.finish_reason ?? "stop",
        promptTokens: m.usage.prompt_tokens,
        completionTokens: m.usage.completion_tokens,
      };
      // the credit the job earns once completed (earnings/ledger.ts rules), written with the
      // completion in one step: credited exactly once (the ledger's key is the job id). If it
      // cannot be worked out (the price not readable), the job completes without it and the
      // reconciler (earnings/reconcile.ts) credits it within a minute.
      const plan = await planCredit(
        this.ctx.repo,
        { id: a.jobId, status: "completed", workerId: this.nodeId, ...a.credit, ...result },
        this.nodeId,
        now,
      ).catch((e: Error) => {
        this.ctx.log("warn", `job ${a.jobId}: its credit is left to the reconciler: ${e.message}`);
        return null;
      });
      const credit = plan && "entry" in plan ? plan : null;
      const done = await this.ctx.repo.completeAndCreditJob(a.jobId, a.fence, result, now, credit);
      if (done) {
        this.ctx.metrics?.tokens(m.usage.prompt_tokens, m.usage.completion_tokens);
        if (done.credit === "credited" && credit) {
          this.ctx.earnings.credited(this.nodeId, credit.entry.amountMicros, now);
          this.ctx.metrics?.credited(credit.entry.amountMicros);
        }
        // not awaited (the NOTIFY to other instances is a round trip): waiters here hear it at
        // once, those elsewhere by NOTIFY or, if that is lost, by their sweep. A job submitted
        // here has its waiter and its audit here (chunks above): no NOTIFY, which every other
        // instance would have answered with a read of the job and of its audit.
        this.ctx.bus
          .publish({ kind: "job_finished", jobId: a.jobId, job: done.job }, { localOnly: a.origin === this.ctx.instanceId })
          .catch((e: Error) => this.ctx.log("warn", `job ${a.jobId}: other instances were not told it finished: ${e.message}`));
      }
    } else if (m.status === "failed") {
      await this.endAttempt(a, m.error ?? { code: "worker_failed", message: "the worker reported a failure" });
    } else {
      // cancelled by the worker itself (paused, shutting down): run it elsewhere at once
      await this.endAttempt(a, { code: "worker_cancelled", message: "the worker stopped the attempt" }, 0);
    }
    this.ctx.trigger();
  }

  private take(jobId: string, fence: string): Attempt | null {
    const a = this.attempts.get(jobId);
    if (!a || a.fence !== fence) return null;
    clearTimeout(a.timer);
    this.attempts.delete(jobId);
    return a;
  }

  /** The attempt failed: back to the queue after a backoff, or dead when out of attempts. */
  private async endAttempt(a: Attempt, error: { code: string; message: string }, delayMs?: number): Promise<void> {
    const now = this.ctx.now();
    const row = await this.ctx.repo.failAttempt(
      a.jobId,
      a.fence,
      error,
      now + (delayMs ?? retryDelay(a.attempt, this.ctx.retryBaseMs)),
      now,
    );
    if (!row) return;
    if (row.status === "queued") this.ctx.metrics?.attempt("retried");
    await this.ctx.bus.publish(row.status === "dead" ? { kind: "job_finished", jobId: a.jobId, job: row } : { kind: "job_available" });
  }

  /** WorkerSlot: send one attempt of a job to this worker. */
  async assign(job: JobRow): Promise<void> {
    const req = job.request as unknown as JobRequest;
    const fence = job.fence as string;
    const timer = setTimeout(() => void this.timeout(job.id, fence), job.timeoutMs);
    // counted before anything is awaited: the scheduler, leasing on, sees this slot's load at once
    this.attempts.set(job.id, {
      jobId: job.id,
      fence,
      attempt: job.attempts,
      nextSeqIn: 0,
      nextSeqOut: 0,
      text: "",
      lastExtend: this.ctx.now(),
      timer,
      credit: { model: job.model, purpose: job.purpose, apiKeyId: job.apiKeyId },
      origin: job.originInstance,
    });
    let model: Awaited<ReturnType<Repository["getModel"]>>;
    try {
      model = await this.ctx.repo.getModel(job.model);
    } catch (error) {
      this.take(job.id, fence); // not sent: the lease runs out and the job is queued again
      throw error;
    }
    if (this.attempts.get(job.id)?.fence !== fence) return; // cancelled or timed out meanwhile
    this.send({
      type: "job_assignment",
      job_id: job.id,
      attempt: job.attempts,
      fence,
      model: {
        id: job.model,
        sha256: model?.sha256 ?? "0".repeat(64),
        ...(model
          ? { url: /^https?:\/\//.test(model.source) ? model.source : this.ctx.modelUrl(model.sha256), size: model.sizeBytes }
          : {}),
      },
      ...(req.kind === "chat" ? { messages: req.messages ?? [] } : { prompt: req.prompt ?? "" }),
      params: req.params,
      timeout_secs: Math.max(1, Math.ceil(job.timeoutMs / 1000)),
      priority: Math.max(0, Math.min(100, job.priority)),
      // result verification (issue 9): this output will be compared with another worker's
      // (a worker on protocol 1 would refuse the field: it runs the job as any other)
      ...(req.deterministic === true && this.protocolVersion >= SINCE.deterministic ? { deterministic: true } : {}),
    });
  }

  private async timeout(jobId: string, fence: string): Promise<void> {
    const a = this.take(jobId, fence);
    if (!a) return;
    this.send({ type: "job_cancel", job_id: jobId, fence, reason: "timeout" });
    await this.endAttempt(a, { code: "timeout", message: "the attempt ran past its time limit" });
  }

  /** The coordinator cancels an attempt (client gone, operator). */
  cancelAttempt(jobId: string, fence: string, reason: "client_cancelled" | "client_disconnected" | "operator"): void {
    if (!this.take(jobId, fence)) return;
    this.send({ type: "job_cancel", job_id: jobId, fence, reason });
  }

  /** Sends a command or config change to this worker. */
  push(message: Extract<CoordinatorToWorker, { type: "command" | "config_update" | "update_available" }>): void {
    this.send(message);
  }

  /** The socket closed (after any frames still being handled). */
  closedByPeer(): Promise<void> {
    this.chain = this.chain.then(() => this.onClose());
    return this.chain;
  }

  /** The worker is offline and its attempts go to others. */
  private async onClose(): Promise<void> {
    if (this.state === "closed") return;
    const wasReady = this.state === "ready";
    this.state = "closed";
    clearTimeout(this.handshakeTimer);
    this.ctx.closed(this);
    const lost = [...this.attempts.values()];
    this.attempts.clear();
    for (const a of lost) {
      this.ctx.metrics?.attempt("worker_lost");
      clearTimeout(a.timer);
      await this.endAttempt(a, { code: "worker_lost", message: `worker ${this.nodeId} disconnected mid-job` }, 0);
    }
    if (wasReady) {
      await this.ctx.heartbeats.forget(this.nodeId); // no batched beat may land after (and undo) this
      await this.ctx.repo.updateWorker(this.nodeId, { status: "offline", instanceId: null });
    }
  }

  /** Closes without waiting for the worker (revocation, replacement, shutdown). */
  kick(code: number, reason: string): void {
    this.socket.close(code, reason);
  }
}

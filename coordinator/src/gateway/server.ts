// The worker port: WSS with mutual TLS; holds this instance's worker sessions.
import { type CoordinatorToWorker, MAX_FRAME_BYTES } from "@gogrid/protocol";
import type { Server, ServerWebSocket } from "bun";
import type { Repository } from "../db/repository.ts";
import { EarningsCache } from "../earnings/summary-cache.ts";
import type { Bus } from "../jobs/bus.ts";
import type { WorkerSlot } from "../jobs/scheduler.ts";
import { HeartbeatBook } from "./heartbeats.ts";
import { type GatewayContext, WorkerSession } from "./session.ts";

export interface GatewayTls {
  cert: string;
  key: string;
  /** Our CA: only certificates it issued pass the handshake. */
  ca: string;
  /** Revoked certificates, refused at the handshake. */
  crl?: string;
}

export interface GatewayOptions extends Omit<GatewayContext, "registered" | "closed" | "trigger" | "heartbeats" | "earnings"> {
  host: string;
  port: number;
  tls: GatewayTls;
  bus: Bus;
  /** Signed worker releases served at /releases/… (self-update). */
  releases?: { serve(pathname: string): Response };
  /** How often batched heartbeat times are written (default 1000 ms; keep it well below the offline timeout). */
  heartbeatFlushMs?: number;
}

interface SocketData {
  session: WorkerSession | null;
}

type Pushable = Extract<CoordinatorToWorker, { type: "command" | "config_update" | "update_available" }>;

export class Gateway {
  private readonly server: Server<SocketData>;
  private readonly byNode = new Map<string, WorkerSession>();
  private readonly unsubscribe: () => void;
  #port: number | undefined;
  readonly heartbeats: HeartbeatBook;
  readonly earnings: EarningsCache;
  /** Set by the owner once the scheduler exists. */
  onWorkAvailable: () => void = () => {};

  constructor(options: GatewayOptions) {
    this.heartbeats = new HeartbeatBook(
      options.repo,
      (e) => options.log("warn", `writing heartbeat times failed (written with the next beats): ${e.message}`),
      options.heartbeatFlushMs,
    );
    this.earnings = new EarningsCache(options.repo);
    const ctx: GatewayContext = {
      ...options,
      heartbeats: this.heartbeats,
      earnings: this.earnings,
      trigger: () => this.onWorkAvailable(),
      registered: (s) => {
        const old = this.byNode.get(s.nodeId);
        if (old && old !== s) old.kick(4000, "replaced by a newer connection of this worker");
        this.byNode.set(s.nodeId, s);
      },
      closed: (s) => {
        if (this.byNode.get(s.nodeId) !== s) return;
        this.byNode.delete(s.nodeId);
        this.earnings.forget(s.nodeId);
      },
    };
    this.server = Bun.serve<SocketData>({
      hostname: options.host,
      port: options.port,
      // Bun.serve: one tls entry, rejectUnauthorized set explicitly (DESIGN.md, security model)
      tls: {
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        ...(options.tls.crl ? { crl: options.tls.crl } : {}),
        requestCert: true,
        rejectUnauthorized: true,
      },
      async fetch(req, server) {
        if (server.upgrade(req, { data: { session: null } })) return undefined;
        // enrolled workers (the TLS handshake checked their certificate) download models here
        const pathname = new URL(req.url).pathname;
        if (pathname.startsWith("/releases/") && req.method === "GET" && options.releases) return options.releases.serve(pathname);
        const m = /^\/models\/([0-9a-f]{64})$/.exec(pathname);
        if (m && req.method === "GET") {
          const model = (await options.repo.listModels()).find((x) => x.sha256 === m[1] && !/^https?:\/\//.test(x.source));
          if (!model) return new Response("no such model\n", { status: 404 });
          return new Response(Bun.file(model.source), { headers: { "content-type": "application/octet-stream" } });
        }
        return new Response("GoGrid worker port: WebSocket (wss://), /models/<sha256> and /releases/… only\n", { status: 426 });
      },
      websocket: {
        maxPayloadLength: MAX_FRAME_BYTES,
        idleTimeout: Math.min(960, Math.max(30, options.heartbeatSecs * 4)),
        open(ws: ServerWebSocket<SocketData>) {
          ws.data.session = new WorkerSession(ctx, ws);
        },
        message(ws: ServerWebSocket<SocketData>, message: string | Buffer) {
          void ws.data.session?.receive(typeof message === "string" ? message : new Uint8Array(message));
        },
        close(ws: ServerWebSocket<SocketData>, code: number) {
          if (code !== 1000 && code !== 1001) options.metrics?.wsError("closed_abnormally");
          void ws.data.session?.closedByPeer();
        },
      },
    });
    this.unsubscribe = options.bus.subscribe((e) => {
      if (e.kind === "job_cancel") {
        this.byNode
          .get(e.workerId)
          ?.cancelAttempt(e.jobId, e.fence, e.reason === "the client disconnected" ? "client_disconnected" : "client_cancelled");
      } else if (e.kind === "worker_revoked") {
        this.byNode.get(e.nodeId)?.kick(4001, "this worker's certificate was revoked");
      } else if (e.kind === "worker_push") {
        const message = e.message as Pushable;
        if (e.nodeId === null) this.broadcast(message);
        else this.push(e.nodeId, message);
      }
    });
  }

  /** The bound port, read once: every job assignment names it in the model URL, and Bun's getter was 1.6% of the coordinator's CPU at 800 jobs/s (issue 9). */
  get port(): number {
    this.#port ??= this.server.port as number;
    return this.#port;
  }

  /** Registered workers on this instance, for the scheduler. */
  slots(): WorkerSlot[] {
    return [...this.byNode.values()].filter((s) => s.state === "ready");
  }

  /** Sends a command or config change to one node (true when it is connected here). */
  push(nodeId: string, message: Pushable): boolean {
    const s = this.byNode.get(nodeId);
    if (s?.state !== "ready") return false;
    s.push(message);
    return true;
  }

  /** Sends to every worker connected to this instance; returns how many. */
  broadcast(message: Pushable): number {
    const ready = this.slots() as WorkerSession[];
    for (const s of ready) s.push(message);
    return ready.length;
  }

  /**
   * Catches changes made outside this process (gogrid-admin on SQLite has no event bus):
   * revoked nodes are disconnected, attempts of cancelled jobs are stopped.
   */
  async sweep(repo: Repository): Promise<void> {
    const sessions = this.slots() as WorkerSession[];
    if (sessions.length === 0) return;
    // one query for all (revokeWorker revokes a node's certificates with the node), not one per worker
    const revoked = new Set((await repo.listRevokedCertificates()).map((c) => c.nodeId));
    const live: WorkerSession[] = [];
    for (const s of sessions) {
      if (revoked.has(s.nodeId)) s.kick(4001, "this worker's certificate was revoked");
      else live.push(s);
    }
    // the running attempts' jobs in one query, not one per attempt
    const cancelled = new Set(
      (await repo.getJobs(live.flatMap((s) => [...s.attempts.keys()]))).filter((j) => j.status === "cancelled").map((j) => j.id),
    );
    for (const s of live) {
      for (const a of [...s.attempts.values()]) if (cancelled.has(a.jobId)) s.cancelAttempt(a.jobId, a.fence, "operator");
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    for (const s of this.byNode.values()) s.kick(1001, "coordinator shutting down");
    await this.server.stop(true);
    await this.heartbeats.stop();
  }
}

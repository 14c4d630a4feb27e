// The worker's WSS link: client certificate, pinned coordinator key, challenge, register,
// heartbeats, and reconnection with exponential backoff and jitter.
import {
  authChallengePayload,
  type CoordinatorToWorker,
  decodeCoordinatorMessage,
  encode,
  MAX_PROTOCOL_VERSION,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  type WorkerToCoordinator,
} from "@gogrid/protocol";
import { signChallenge, spkiSha256 } from "@gogrid/protocol/identity";
import type { Identity } from "./identity.ts";

export type LinkState = "connecting" | "connected" | "disconnected" | "refused";
type RegisterBody = Omit<Extract<WorkerToCoordinator, { type: "register" }>, "type" | "id" | "ts">;
type Log = (level: "debug" | "info" | "warn" | "error", message: string) => void;

export interface ConnectionOptions {
  /** Read at each (re)connection: a renewed certificate is used from the next one. */
  identity: () => Identity;
  url: string;
  workerVersion: string;
  /** What `register` says, read at each (re)connection. */
  /** The register message's body for the protocol version agreed in this handshake. */
  registration: (protocolVersion: number) => RegisterBody;
  /** Status and stats for each heartbeat. */
  heartbeat: () => Omit<Extract<WorkerToCoordinator, { type: "heartbeat" }>, "type" | "id" | "ts">;
  onMessage: (m: CoordinatorToWorker) => void;
  onState?: (state: LinkState, detail: string) => void;
  reconnectBaseMs: number;
  log: Log;
}

/** Delay before reconnection attempt `n` (0-based): base·2ⁿ capped at 5 min, times 0.5–1.5. */
export function backoffDelay(n: number, baseMs: number, random = Math.random): number {
  return Math.min(baseMs * 2 ** Math.min(n, 20), 300_000) * (0.5 + random());
}

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  state: LinkState = "disconnected";
  detail = "";

  constructor(private readonly o: ConnectionOptions) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  private setState(state: LinkState, detail: string): void {
    this.state = state;
    this.detail = detail;
    this.o.onState?.(state, detail);
  }

  private open(): void {
    const identity = this.o.identity();
    this.setState("connecting", this.o.url);
    const tls = {
      cert: identity.certPem,
      key: identity.keyPem,
      ca: identity.caPem,
      rejectUnauthorized: true,
      // the coordinator is known by the key it had at enrolment, whatever name it is reached by
      checkServerIdentity: (_host: string, cert: { raw: Uint8Array }) =>
        spkiSha256(cert.raw) === identity.serverPin
          ? undefined
          : new Error("the coordinator's certificate key does not match the pin from enrolment"),
    };
    const ws = new WebSocket(this.o.url, { tls } as unknown as string[]);
    this.ws = ws;
    ws.onopen = () =>
      this.send({
        type: "hello",
        protocol_version: PROTOCOL_VERSION,
        min_protocol_version: MIN_PROTOCOL_VERSION,
        max_protocol_version: MAX_PROTOCOL_VERSION,
        worker_version: this.o.workerVersion,
      });
    // events of a socket that has since been replaced (stop, then start) are not ours any more
    ws.onmessage = (ev) => {
      if (this.ws === ws) void this.receive(String(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws === ws || this.ws === null) this.closed(ev.code, ev.reason);
    };
  }

  private async receive(frame: string): Promise<void> {
    const d = decodeCoordinatorMessage(frame);
    if (!d.ok) {
      this.o.log("warn", `coordinator sent an invalid frame: ${d.error.message}`);
      return;
    }
    const m = d.message;
    switch (m.type) {
      case "auth_challenge": {
        const identity = this.o.identity();
        const signature = await signChallenge(identity.privateKey, authChallengePayload(m.nonce));
        this.send({ type: "auth_response", cert_serial: identity.serial, signature, algorithm: "ECDSA-P256-SHA256" });
        this.send({ type: "register", ...this.o.registration(m.protocol_version) });
        return;
      }
      case "welcome":
        this.attempt = 0;
        this.setState("connected", `node ${m.node_id}`);
        this.startHeartbeats(m.heartbeat_interval);
        break;
      case "version_mismatch":
        this.o.log(
          "error",
          `protocol version mismatch: ${m.message} (coordinator speaks ${m.min_protocol_version}–${m.max_protocol_version}, this worker ${MIN_PROTOCOL_VERSION}–${MAX_PROTOCOL_VERSION})`,
        );
        this.setState("refused", m.message);
        return;
      case "error":
        this.o.log(m.fatal ? "error" : "warn", `coordinator: ${m.code}: ${m.message}`);
        if (m.fatal && m.code === "unauthorized") this.setState("refused", m.message);
        break;
      case "config_update":
        if (m.heartbeat_interval) this.startHeartbeats(m.heartbeat_interval);
        break;
    }
    this.o.onMessage(m);
  }

  private startHeartbeats(seconds: number): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.beat(), seconds * 1000);
  }

  /** Sends a heartbeat now (also used when the status changes). */
  beat(): void {
    if (this.state === "connected") this.send({ type: "heartbeat", ...this.o.heartbeat() });
  }

  send(m: WorkerToCoordinator): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encode(m));
    return true;
  }

  private closed(code: number, reason: string): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.ws = null;
    if (this.stopped) {
      this.setState("disconnected", "stopped");
      return;
    }
    const refused = this.state === "refused";
    // refused (revoked, wrong version): try again rarely; anything else: back off from the base
    const delay = refused ? 3_600_000 : backoffDelay(this.attempt++, this.o.reconnectBaseMs);
    if (!refused)
      this.setState("disconnected", `connection closed (${code}${reason ? ` ${reason}` : ""}); retrying in ${Math.round(delay / 1000)} s`);
    this.o.log(refused ? "error" : "warn", `${this.detail}`);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "worker stopping");
    this.setState("disconnected", "stopped");
  }
}

// A simulated worker that speaks the real protocol over real mTLS, with scriptable behaviour.
import {
  authChallengePayload,
  type CoordinatorToWorker,
  decodeCoordinatorMessage,
  encode,
  type JobAssignmentMessage,
  PROTOCOL_VERSION,
  type WorkerToCoordinator,
} from "@gogrid/protocol";
import { createCsr, createWorkerKeyPair, exportPkcs8Pem, signChallenge } from "../src/pki/index.ts";

export interface Identity {
  nodeId: string;
  certPem: string;
  keyPem: string;
  serial: string;
  caPem: string;
  workerUrl: string;
  privateKey: CryptoKey;
}

/** What the worker does with an assignment. */
export type Behaviour =
  | { kind: "answer"; text: (job: JobAssignmentMessage) => string; chunkDelayMs?: number }
  /** Streams `afterChunks` chunks, then the socket drops. */
  | { kind: "drop"; text: (job: JobAssignmentMessage) => string; afterChunks: number }
  /** Accepts and never answers. */
  | { kind: "hang" }
  | { kind: "fail"; code: string };

/** Enrols through the real endpoint with a fresh key pair; `keys` is that whole pair. */
export async function enrol(apiUrl: string, token: string, name = "sim"): Promise<Identity & { keys: CryptoKeyPair }> {
  const keys = await createWorkerKeyPair();
  const csr = await createCsr(keys, name);
  const res = await fetch(`${apiUrl}/api/v1/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, csr, name }),
  });
  const body = (await res.json()) as Record<string, string>;
  if (res.status !== 200) throw new Error(`enrolment failed: ${res.status} ${JSON.stringify(body)}`);
  return {
    nodeId: body.node_id as string,
    certPem: body.certificate as string,
    keyPem: await exportPkcs8Pem(keys.privateKey),
    serial: body.certificate_serial as string,
    caPem: body.ca_certificate as string,
    workerUrl: body.worker_url as string,
    privateKey: keys.privateKey,
    keys,
  };
}

export class SimWorker {
  ws: WebSocket | null = null;
  readonly received: CoordinatorToWorker[] = [];
  readonly assignments: JobAssignmentMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (v: { code: number; reason: string }) => void;
  private welcomed!: (ok: boolean) => void;
  /** The last attempt this worker held, to replay a late result. */
  lastJob: JobAssignmentMessage | null = null;

  constructor(
    readonly id: Identity,
    public behaviour: Behaviour,
    readonly options: {
      capacity?: number;
      models?: string[];
      signWith?: CryptoKey;
      tls?: { cert?: string; key?: string };
      /** What `register` says the worker runs (default 0.1.0 on stable). */
      version?: string;
      channel?: "stable" | "beta";
      /** The newest protocol version it speaks (default: this build's). */
      protocol?: number;
    } = {},
  ) {
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
  }

  send(m: WorkerToCoordinator): void {
    this.ws?.send(encode(m, { validate: false }));
  }

  /** Connects and completes the handshake; resolves true on welcome, false if refused. */
  connect(url = this.id.workerUrl): Promise<boolean> {
    const done = new Promise<boolean>((r) => {
      this.welcomed = r;
    });
    const tls = {
      cert: this.options.tls?.cert ?? this.id.certPem,
      key: this.options.tls?.key ?? this.id.keyPem,
      ca: this.id.caPem,
      rejectUnauthorized: true,
    };
    const ws = new WebSocket(url, { tls } as unknown as string[]);
    this.ws = ws;
    ws.onopen = () =>
      this.send({
        type: "hello",
        protocol_version: this.options.protocol ?? PROTOCOL_VERSION,
        min_protocol_version: 1,
        max_protocol_version: this.options.protocol ?? PROTOCOL_VERSION,
        worker_version: "0.1.0",
      });
    ws.onmessage = (ev) => void this.onMessage(String(ev.data));
    ws.onclose = (ev) => {
      this.welcomed(false);
      this.resolveClosed({ code: ev.code, reason: ev.reason });
    };
    ws.onerror = () => this.welcomed(false);
    return done;
  }

  private async onMessage(frame: string): Promise<void> {
    const d = decodeCoordinatorMessage(frame);
    if (!d.ok) throw new Error(`coordinator sent an invalid frame: ${d.error.message}`);
    const m = d.message;
    this.received.push(m);
    if (m.type === "auth_challenge") {
      const signature = await signChallenge(this.options.signWith ?? this.id.privateKey, authChallengePayload(m.nonce));
      this.send({ type: "auth_response", cert_serial: this.id.serial, signature, algorithm: "ECDSA-P256-SHA256" });
      this.send({
        type: "register",
        client_id: `sim-${this.id.nodeId.slice(0, 8)}`,
        gpu_info: [{ name: "Simulated GPU", vendor: "sim", vram_mb: 8192, backend: "cpu" }],
        capabilities: { max_concurrent_jobs: this.options.capacity ?? 1, models: this.options.models ?? [], max_context: 4096 },
        resource_mode: "default",
        version: this.options.version ?? "0.1.0",
        ...(this.options.channel ? { update_channel: this.options.channel } : {}),
        os: "linux",
        arch: "x64",
      } as WorkerToCoordinator);
    } else if (m.type === "welcome") {
      this.welcomed(true);
    } else if (m.type === "job_assignment") {
      this.assignments.push(m);
      this.lastJob = m;
      void this.run(m);
    }
  }

  private async run(job: JobAssignmentMessage): Promise<void> {
    const b = this.behaviour;
    this.send({ type: "job_accept", job_id: job.job_id, fence: job.fence });
    if (b.kind === "hang") return;
    if (b.kind === "fail") {
      this.send({
        type: "job_result",
        job_id: job.job_id,
        fence: job.fence,
        status: "failed",
        finish_reason: null,
        usage: { prompt_tokens: 0, completion_tokens: 0 },
        timings: { ttft_ms: null, total_ms: 1, tokens_per_sec: 0 },
        error: { code: b.code, message: "simulated failure" },
      });
      return;
    }
    const text = b.text(job);
    const pieces = text.match(/.{1,3}/gs) ?? [];
    let seq = 0;
    for (const piece of pieces) {
      if (b.kind === "drop" && seq === b.afterChunks) {
        this.ws?.close(4002, "simulated crash");
        return;
      }
      this.send({ type: "job_chunk", job_id: job.job_id, fence: job.fence, seq: seq++, text: piece });
      await Bun.sleep(b.kind === "answer" ? (b.chunkDelayMs ?? 1) : 5);
    }
    this.send(this.result(job, text));
  }

  result(job: JobAssignmentMessage, text: string): WorkerToCoordinator {
    return {
      type: "job_result",
      job_id: job.job_id,
      fence: job.fence,
      status: "completed",
      finish_reason: "stop",
      text,
      usage: { prompt_tokens: (job.prompt ?? "").length, completion_tokens: Math.ceil(text.length / 3) },
      timings: { ttft_ms: 1, total_ms: 10, tokens_per_sec: 100 },
    };
  }

  close(): void {
    this.ws?.close(1000, "done");
  }
}

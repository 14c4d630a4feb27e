// One connection attempt on the worker port: TLS with the given credentials, then hello, nonce, register.
import { authChallengePayload, decodeCoordinatorMessage, encode, PROTOCOL_VERSION, type WorkerToCoordinator } from "@gogrid/protocol";
import { signChallenge } from "@gogrid/protocol/identity";
import type { MtlsCase } from "./mtls-cases.ts";

/**
 * How far an attempt got. accepted: a `welcome` arrived. tls_refused: the socket never opened.
 * app_refused: it opened, and the coordinator sent a fatal error and closed it. closed: it opened
 * and closed without a welcome or an error. timeout: nothing decided within the time limit.
 */
export type AttemptOutcome = "accepted" | "tls_refused" | "app_refused" | "closed" | "timeout";

export interface AttemptResult {
  outcome: AttemptOutcome;
  /** The coordinator's error code, for app_refused. */
  code?: string;
}

/** The hello both the mTLS attempts and the session fuzzer open with. */
export const HELLO: WorkerToCoordinator = {
  type: "hello",
  protocol_version: PROTOCOL_VERSION,
  min_protocol_version: PROTOCOL_VERSION,
  max_protocol_version: PROTOCOL_VERSION,
  worker_version: "0.1.0",
};

/** A minimal register frame (no GPUs, no models) under the given client id. */
export function registerFrame(clientId: string): WorkerToCoordinator {
  return {
    type: "register",
    client_id: clientId,
    gpu_info: [],
    capabilities: { max_concurrent_jobs: 1, models: [], max_context: 4096 },
    resource_mode: "default",
    version: "0.1.0",
    os: "linux",
    arch: "x64",
  } as WorkerToCoordinator;
}

export function attemptConnection(workerUrl: string, caPem: string, c: MtlsCase, timeoutMs = 10_000): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let opened = false;
    let code: string | undefined;
    let settled = false;
    const tls = { ca: caPem, rejectUnauthorized: true, ...(c.tls ?? {}) };
    const ws = new WebSocket(workerUrl, { tls } as unknown as string[]);
    const finish = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, "attempt over");
    };
    const timer = setTimeout(() => finish({ outcome: "timeout" }), timeoutMs);
    const send = (m: WorkerToCoordinator) => ws.send(encode(m, { validate: false }));
    ws.onopen = () => {
      opened = true;
      send(HELLO);
    };
    ws.onmessage = async (ev) => {
      const d = decodeCoordinatorMessage(String(ev.data));
      if (!d.ok) return;
      const m = d.message;
      if (m.type === "auth_challenge") {
        const signature = await signChallenge(c.signWith, authChallengePayload(m.nonce));
        if (ws.readyState !== WebSocket.OPEN) return;
        send({ type: "auth_response", cert_serial: c.serial, signature, algorithm: "ECDSA-P256-SHA256" });
        send(registerFrame("mtls-matrix"));
      } else if (m.type === "welcome") {
        finish({ outcome: "accepted" });
      } else if (m.type === "error") {
        code = m.code;
      }
    };
    ws.onclose = () => {
      if (!opened) finish({ outcome: "tls_refused" });
      else finish(code ? { outcome: "app_refused", code } : { outcome: "closed" });
    };
  });
}

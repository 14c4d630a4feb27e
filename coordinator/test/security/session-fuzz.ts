// Fuzzes live worker sessions over real mTLS: generated and hostile frames before and after registration.
import { rmSync } from "node:fs";
import { authChallengePayload, decodeCoordinatorMessage, encode, type WorkerToCoordinator } from "@gogrid/protocol";
import { signChallenge } from "@gogrid/protocol/identity";
import fc from "fast-check";
import { messageArbitrary } from "../../../protocol/src/testing/arbitraries.ts";
import { hostileFrameArbitrary } from "../../../protocol/src/testing/hostile-frames.ts";
import type { Config } from "../../src/config/settings.ts";
import { startCoordinator } from "../../src/coordinator.ts";
import { enrolmentToken, testConfig } from "../harness.ts";
import { HELLO, registerFrame } from "./mtls-attempt.ts";
import { type Enrolled, enrolWithKeys } from "./mtls-cases.ts";

const AFTER_REGISTRATION = [
  "heartbeat",
  "job_accept",
  "job_reject",
  "job_chunk",
  "job_result",
  "update_complete",
  "cert_renew",
  "error",
] as const;
const HANDSHAKE = ["hello", "auth_response", "register"] as const;

export interface SessionFuzzReport {
  target: "sessions";
  /** Frames sent on live sockets. */
  inputs: number;
  connections: number;
  /** Connections that sent generated frames before the handshake; none may reach welcome. */
  pre_auth_connections: number;
  pre_auth_welcomed: number;
  /** Error frames the coordinator sent back, by code. */
  errors: Record<string, number>;
  /** Frames from the coordinator that did not decode. */
  bad_replies: number;
  /** Lines the coordinator logged at level "error" (a handler threw). */
  logged_errors: number;
  /** A fresh worker still registers afterwards. */
  alive_after: boolean;
  seconds: number;
  seed: number;
  failure: string | null;
}

type Frame = string | Uint8Array | ArrayBuffer;

/** The frames to send: mostly valid messages the worker may send once registered, then hostile and handshake ones. */
function frames(count: number, seed: number): { ready: Frame[]; preAuth: Frame[] } {
  const valid = fc.oneof(...AFTER_REGISTRATION.map((t) => messageArbitrary(t))).map((m) => encode(m, { validate: false }) as Frame);
  const handshake = fc.oneof(...HANDSHAKE.map((t) => messageArbitrary(t))).map((m) => encode(m, { validate: false }) as Frame);
  const hostile = hostileFrameArbitrary()
    .filter((h) => h.maxFrameBytes === undefined)
    .map((h) => h.frame);
  const ready = fc.sample(
    fc.oneof({ weight: 6, arbitrary: valid }, { weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: handshake }),
    {
      numRuns: Math.ceil(count * 0.8),
      seed,
    },
  );
  const preAuth = fc.sample(fc.oneof(handshake, hostile), { numRuns: Math.floor(count * 0.2), seed: seed + 1 });
  return { ready, preAuth };
}

interface Conn {
  ws: WebSocket;
  welcomed: Promise<boolean>;
  closed: Promise<void>;
  isOpen(): boolean;
  /** Resolves on the next frame from the coordinator, or when the socket closes. */
  nextReply(ms: number): Promise<void>;
}

function open(id: Enrolled, caPem: string, url: string, handshake: boolean, report: SessionFuzzReport): Conn {
  const ws = new WebSocket(url, { tls: { cert: id.certPem, key: id.keyPem, ca: caPem, rejectUnauthorized: true } } as unknown as string[]);
  let welcome!: (ok: boolean) => void;
  const welcomed = new Promise<boolean>((r) => {
    welcome = r;
  });
  let closedFlag = false;
  let wake: (() => void) | null = null;
  const closed = new Promise<void>((r) => {
    ws.onclose = () => {
      closedFlag = true;
      welcome(false);
      wake?.();
      r();
    };
  });
  const send = (m: WorkerToCoordinator) => ws.send(encode(m, { validate: false }));
  ws.onopen = () => {
    if (!handshake) return welcome(false);
    send(HELLO);
  };
  ws.onmessage = async (ev) => {
    wake?.();
    const d = decodeCoordinatorMessage(String(ev.data));
    if (!d.ok) {
      report.bad_replies++;
      return;
    }
    const m = d.message;
    if (m.type === "error") report.errors[m.code] = (report.errors[m.code] ?? 0) + 1;
    if (m.type === "welcome") {
      if (!handshake) report.pre_auth_welcomed++;
      welcome(true);
    }
    if (m.type === "auth_challenge" && handshake) {
      const signature = await signChallenge(id.keys.privateKey, authChallengePayload(m.nonce));
      send({ type: "auth_response", cert_serial: id.serial, signature, algorithm: "ECDSA-P256-SHA256" });
      send(registerFrame("session-fuzz"));
    }
  };
  return {
    ws,
    welcomed,
    closed,
    isOpen: () => !closedFlag && ws.readyState === WebSocket.OPEN,
    nextReply: (ms) =>
      new Promise<void>((r) => {
        const t = setTimeout(r, ms);
        wake = () => {
          clearTimeout(t);
          wake = null;
          r();
        };
      }),
  };
}

/**
 * Starts a coordinator whose "error" log lines are counted, enrols one worker, and sends `count`
 * frames: 80% on registered sessions (reconnecting whenever the coordinator closes one), 20% on
 * sockets that skip the handshake. Then checks a fresh worker still registers.
 */
export async function fuzzSessions(opts: { frames: number; seed?: number; config?: Partial<Config> }): Promise<SessionFuzzReport> {
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const report: SessionFuzzReport = {
    target: "sessions",
    inputs: 0,
    connections: 0,
    pre_auth_connections: 0,
    pre_auth_welcomed: 0,
    errors: {},
    bad_replies: 0,
    logged_errors: 0,
    alive_after: false,
    seconds: 0,
    seed,
    failure: null,
  };
  const config = testConfig(opts.config);
  const logged: string[] = [];
  const c = await startCoordinator(config, (level, message) => {
    if (level === "error") logged.push(message);
  });
  const t0 = performance.now();
  try {
    const id = await enrolWithKeys(c.apiUrl, await enrolmentToken(c.repo));
    const { ready, preAuth } = frames(opts.frames, seed);
    let conn: Conn | null = null;
    for (const frame of ready) {
      if (!conn?.isOpen()) {
        conn = open(id, c.pki.caCertPem, c.workerUrl, true, report);
        report.connections++;
        if (!(await conn.welcomed)) throw new Error("an honest session was refused during the fuzz");
      }
      conn.ws.send(frame);
      report.inputs++;
      // let the session answer (or close) before the next frame, so every frame meets a live session
      await conn.nextReply(2);
    }
    conn?.ws.close();
    for (let i = 0; i < preAuth.length; i += 5) {
      const raw = open(id, c.pki.caCertPem, c.workerUrl, false, report);
      report.connections++;
      report.pre_auth_connections++;
      await raw.welcomed;
      for (const frame of preAuth.slice(i, i + 5)) {
        if (!raw.isOpen()) break;
        raw.ws.send(frame);
        report.inputs++;
        await raw.nextReply(2);
      }
      raw.ws.close();
      await raw.closed;
    }
    const check = open(id, c.pki.caCertPem, c.workerUrl, true, report);
    report.alive_after = await check.welcomed;
    check.ws.close();
  } catch (e) {
    report.failure = (e as Error).message;
  } finally {
    report.seconds = Math.round((performance.now() - t0) / 10) / 100;
    await c.stop();
    rmSync(config.dataDir, { recursive: true, force: true });
  }
  report.logged_errors = logged.length;
  if (!report.failure) {
    if (logged.length > 0) report.failure = `the coordinator logged ${logged.length} error(s), first: ${logged[0]?.slice(0, 300)}`;
    else if (report.pre_auth_welcomed > 0)
      report.failure = `${report.pre_auth_welcomed} socket(s) that skipped the handshake got a welcome`;
    else if (report.bad_replies > 0) report.failure = `${report.bad_replies} frame(s) from the coordinator did not decode`;
    else if (!report.alive_after) report.failure = "a fresh worker could not register after the fuzz";
  }
  return report;
}

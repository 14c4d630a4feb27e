// Oversize input on the real listeners: a WSS frame over 4 MiB closes the socket; an oversize enrolment body is refused unread.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect } from "node:net";
import { MAX_FRAME_BYTES } from "@gogrid/protocol";
import { hashSecret } from "../../src/api/auth.ts";
import { bodyLimit } from "../../src/api/openai/service.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import { MAX_REGISTER_BODY_BYTES } from "../../src/enrolment/index.ts";
import { createCsr, createWorkerKeyPair } from "../../src/pki/index.ts";
import { enrolmentToken, start } from "../harness.ts";
import { enrol, SimWorker } from "../sim-worker.ts";

setDefaultTimeout(60_000);

let c: Awaited<ReturnType<typeof start>>;
beforeAll(async () => {
  c = await start();
});
afterAll(async () => {
  await c.cleanup();
});

const answer = { kind: "answer", text: () => "ok" } as const;

/** Opens a TLS+WebSocket connection that has passed the handshake but not yet sent hello. */
async function openSocket(): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; messages: string[] }> {
  const id = await enrol(c.apiUrl, await enrolmentToken(c.repo));
  const ws = new WebSocket(id.workerUrl, {
    tls: { cert: id.certPem, key: id.keyPem, ca: id.caPem, rejectUnauthorized: true },
  } as unknown as string[]);
  const messages: string[] = [];
  ws.onmessage = (ev) => messages.push(String(ev.data));
  const closed = new Promise<{ code: number; reason: string }>((r) => {
    ws.onclose = (ev) => r({ code: ev.code, reason: ev.reason });
  });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("the worker socket did not open"));
  });
  return { ws, closed, messages };
}

describe("worker port: frames over MAX_FRAME_BYTES", () => {
  test("before the handshake: a frame one byte over the limit closes the socket", async () => {
    const s = await openSocket();
    s.ws.send("x".repeat(MAX_FRAME_BYTES + 1));
    const closed = await s.closed;
    expect(closed.code).not.toBe(1000);
    expect(s.messages.some((m) => m.includes("welcome"))).toBe(false);
  });

  test("after registration: an oversize binary frame closes the socket, and the worker goes offline", async () => {
    const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), answer);
    expect(await w.connect()).toBe(true);
    w.ws?.send(new Uint8Array(MAX_FRAME_BYTES + 1024));
    const closed = await w.closed;
    expect(closed.code).not.toBe(1000);
    let status = "";
    for (let i = 0; i < 100 && status !== "offline"; i++) {
      status = (await c.repo.getWorker(w.id.nodeId))?.status ?? "";
      await Bun.sleep(20);
    }
    expect(status).toBe("offline");
  });

  test("control: a frame just under the limit is answered with an error, not a close", async () => {
    const s = await openSocket();
    s.ws.send("x".repeat(MAX_FRAME_BYTES - 16));
    for (let i = 0; i < 200 && s.messages.length === 0; i++) await Bun.sleep(10);
    expect(JSON.parse(s.messages[0] ?? "{}")).toMatchObject({ type: "error", code: "invalid_json" });
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    s.ws.close();
  });
});

/** Raw HTTP over TCP: writes `head`, then `chunk` slowly and repeatedly until the answer comes; returns it and the bytes written. */
function rawPost(head: string, chunk: string | null, maxBytes: number): Promise<{ statusLine: string; body: string; written: number }> {
  const { hostname, port } = new URL(c.apiUrl);
  return new Promise((resolve, reject) => {
    let written = 0;
    let answer = "";
    let done = false;
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(head);
      // one chunk every few milliseconds, so what was written when the answer came is what the server read
      const pump = async () => {
        while (!done && chunk !== null && written < maxBytes) {
          written += chunk.length;
          socket.write(chunk);
          await Bun.sleep(3);
        }
      };
      void pump();
    });
    const finish = () => {
      if (done) return;
      done = true;
      const [headers = "", body = ""] = answer.split("\r\n\r\n");
      resolve({ statusLine: headers.split("\r\n")[0] ?? "", body, written });
      socket.destroy();
    };
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      answer += d;
      if (answer.includes("\r\n\r\n") && answer.includes("}")) finish();
    });
    socket.on("error", (e) => (answer ? finish() : reject(e)));
    socket.on("close", finish);
    setTimeout(finish, 10_000);
  });
}

describe("enrolment: oversize bodies", () => {
  const headers = (extra: string) =>
    `POST /api/v1/register HTTP/1.1\r\nHost: ${new URL(c.apiUrl).host}\r\nContent-Type: application/json\r\n${extra}\r\n`;

  test("a Content-Length over the limit is refused with 413 before any body byte is sent", async () => {
    const r = await rawPost(headers(`Content-Length: ${100 * 1024 * 1024}\r\n`), null, 0);
    expect(r.statusLine).toMatch(/^HTTP\/1\.1 413/);
    expect(r.written).toBe(0);
    expect(JSON.parse(r.body).error).toMatchObject({ code: "request_too_large", type: "invalid_request_error" });
  });

  test("a chunked body that never ends is cut off soon after the limit", async () => {
    const token = await enrolmentToken(c.repo);
    const piece = "a".repeat(16 * 1024);
    const chunk = `${piece.length.toString(16)}\r\n${piece}\r\n`;
    const start = `{"token":"${token}","csr":"`;
    const head = `${headers("Transfer-Encoding: chunked\r\n")}${start.length.toString(16)}\r\n${start}\r\n`;
    const r = await rawPost(head, chunk, 64 * 1024 * 1024);
    expect(r.statusLine).toMatch(/^HTTP\/1\.1 413/);
    // the server stopped reading long before the 64 MiB the client was ready to send
    expect(r.written).toBeLessThan(4 * MAX_REGISTER_BODY_BYTES);
    console.log(`chunked oversize body: 413 after the client wrote ${r.written} bytes (limit ${MAX_REGISTER_BODY_BYTES})`);
    const row = (await c.repo.listEnrolmentTokens()).find((t) => t.tokenHash === hashSecret(token));
    expect(row?.usedAt).toBeNull();
  });

  test("an oversize body carrying a real token does not spend it; the token still enrols afterwards", async () => {
    const token = await enrolmentToken(c.repo);
    const csr = await createCsr(await createWorkerKeyPair(), "big");
    const res = await fetch(`${c.apiUrl}/api/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, csr, name: "n".repeat(MAX_REGISTER_BODY_BYTES) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
    const row = (await c.repo.listEnrolmentTokens()).find((t) => t.tokenHash === hashSecret(token));
    expect(row?.usedAt).toBeNull();
    await enrol(c.apiUrl, token); // still good
  });
});

describe("API port: routes without a cap of their own", () => {
  test("a declared body over the largest allowed request is refused with an OpenAI-shaped 413, unread", async () => {
    const big = new Uint8Array(
      bodyLimit({ maxPromptChars: SETTINGS.maxPromptChars.default, maxTokens: SETTINGS.maxTokens.default }) + 1024,
    );
    for (const path of ["/dashboard/login", "/healthz", "/nothing-here"]) {
      const res = await fetch(`${c.apiUrl}${path}`, { method: "POST", body: big });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
    }
    // a small body still reaches the route
    expect((await fetch(`${c.apiUrl}/healthz`)).status).toBe(200);
  });
});

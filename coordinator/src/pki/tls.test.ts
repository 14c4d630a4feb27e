// Real mTLS handshakes against Bun.serve and node:tls with certificates from this PKI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer, connect as tlsConnect } from "node:tls";
import { spkiSha256 } from "@gogrid/protocol/identity";
import { loadOrCreatePki, type Pki } from "./ca.ts";
import { DAY_MS, enrolWorker, SERVER_NAMES, tempDirs, type WorkerCredentials } from "./test-support.ts";

interface Attempt {
  /** The client saw its side of the handshake complete (secureConnect). */
  readonly handshake: boolean;
  /** First line of the HTTP response, or null when the server sent nothing. */
  readonly response: string | null;
  readonly error: string | null;
  /** Whether the server certificate's SPKI matched the pin (checked in checkServerIdentity). */
  readonly pinned: boolean;
}

const dirs = tempDirs();
let pki: Pki;
let good: WorkerCredentials;
let rogue: WorkerCredentials;
let expired: WorkerCredentials;
let revoked: WorkerCredentials;

beforeAll(async () => {
  pki = await loadOrCreatePki(await dirs.make(), { serverNames: [...SERVER_NAMES] });
  const rogueCa = await loadOrCreatePki(await dirs.make(), { serverNames: [...SERVER_NAMES] });
  good = await enrolWorker(pki, "node-good");
  rogue = await enrolWorker(rogueCa, "node-good");
  expired = await enrolWorker(pki, "node-expired", new Date(Date.now() - 400 * DAY_MS));
  revoked = await enrolWorker(pki, "node-revoked");
});
afterAll(() => dirs.cleanup());

/** One HTTP/1.1 GET over node:tls, trusting only our CA and pinning the server's SPKI. */
function attempt(port: number, creds?: WorkerCredentials): Promise<Attempt> {
  return new Promise((resolve) => {
    let handshake = false;
    let pinned = false;
    let data = "";
    let error: string | null = null;
    const socket = tlsConnect(
      {
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: pki.caCertPem,
        ...(creds ? { cert: creds.cert, key: creds.key } : {}),
        checkServerIdentity: (_host, cert) => {
          pinned = spkiSha256(cert.raw) === pki.serverSpkiSha256;
          return pinned ? undefined : new Error("SPKI pin mismatch");
        },
      },
      () => {
        handshake = true;
        socket.write("GET /probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      },
    );
    const timer = setTimeout(() => socket.destroy(new Error("timeout")), 5000);
    socket.on("data", (chunk) => {
      data += String(chunk);
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = `${e.code ?? ""} ${e.message}`;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ handshake, response: data ? (data.split("\r\n")[0] ?? "") : null, error, pinned });
    });
  });
}

function mtlsServer(crl?: string) {
  let hits = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: {
      cert: pki.serverCertPem,
      key: pki.serverKeyPem,
      ca: pki.caCertPem,
      requestCert: true,
      rejectUnauthorized: true,
      ...(crl ? { crl } : {}),
    },
    fetch(req, srv) {
      hits++;
      if (srv.upgrade(req)) return undefined;
      return new Response("hello");
    },
    websocket: {
      open(ws) {
        ws.send("welcome");
      },
      message() {},
    },
  });
  return { server, port: server.port ?? 0, hits: () => hits };
}

describe("Bun.serve with requestCert + rejectUnauthorized", () => {
  test("an issued client cert gets a response; no cert, a rogue CA's cert and an expired cert never reach fetch", async () => {
    const { server, port, hits } = mtlsServer();
    try {
      const ok = await attempt(port, good);
      expect(ok).toMatchObject({ handshake: true, response: "HTTP/1.1 200 OK", error: null, pinned: true });
      expect(hits()).toBe(1);

      // No certificate: a TLS alert at the handshake (certificate_required under TLS 1.3).
      const none = await attempt(port);
      expect(none.response).toBeNull();
      expect(none.error).toContain("CERTIFICATE_REQUIRED");

      // Unverifiable certificates: Bun completes the client's side of the handshake, sends no
      // alert, and closes the connection before any request is read. The client sees a clean
      // close with no data (fetch: ECONNRESET, WebSocket: "Connection ended").
      for (const creds of [rogue, expired]) {
        const refused = await attempt(port, creds);
        expect(refused.response).toBeNull();
      }
      expect(hits()).toBe(1);
    } finally {
      server.stop(true);
    }
  });

  test("tls.crl refuses a revoked client cert at the handshake; an empty CRL refuses nobody", async () => {
    const empty = mtlsServer(await pki.crlPem([]));
    try {
      expect((await attempt(empty.port, good)).response).toBe("HTTP/1.1 200 OK");
      expect((await attempt(empty.port, revoked)).response).toBe("HTTP/1.1 200 OK");
    } finally {
      empty.server.stop(true);
    }
    const withCrl = mtlsServer(await pki.crlPem([{ serial: revoked.serial, revokedAt: Date.now() }]));
    try {
      expect((await attempt(withCrl.port, revoked)).response).toBeNull();
      expect((await attempt(withCrl.port, good)).response).toBe("HTTP/1.1 200 OK");
      expect((await attempt(withCrl.port, expired)).response).toBeNull();
      expect(withCrl.hits()).toBe(1);
    } finally {
      withCrl.server.stop(true);
    }
  });

  test("Bun's fetch and WebSocket clients present a client cert from tls: { cert, key, ca }", async () => {
    const { server, port } = mtlsServer();
    try {
      const response = await fetch(`https://localhost:${port}/`, { tls: { cert: good.cert, key: good.key, ca: pki.caCertPem } });
      expect(await response.text()).toBe("hello");
      await expect(fetch(`https://localhost:${port}/`, { tls: { ca: pki.caCertPem } })).rejects.toThrow();
      await expect(fetch(`https://localhost:${port}/`, { tls: { cert: rogue.cert, key: rogue.key, ca: pki.caCertPem } })).rejects.toThrow();

      const first = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`wss://localhost:${port}/`, { tls: { cert: good.cert, key: good.key, ca: pki.caCertPem } });
        ws.onmessage = (event) => {
          resolve(String(event.data));
          ws.close();
        };
        ws.onerror = () => reject(new Error("websocket failed"));
      });
      expect(first).toBe("welcome");
    } finally {
      server.stop(true);
    }
  });
});

describe("node:tls server in Bun (an alternative for the worker port)", () => {
  test("getPeerCertificate() returns the verified client cert's CN and serial", async () => {
    const seen: { cn: string; serial: string | undefined; authorized: boolean }[] = [];
    const server = createTlsServer(
      { cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const peer = socket.getPeerCertificate();
        seen.push({ cn: String(peer.subject?.CN), serial: peer.serialNumber?.toLowerCase(), authorized: socket.authorized });
        socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      expect((await attempt(port, good)).response).toBe("HTTP/1.1 200 OK");
      expect(seen).toEqual([{ cn: "node-good", serial: good.serial, authorized: true }]);
      expect((await attempt(port, rogue)).response).toBeNull();
      expect((await attempt(port)).response).toBeNull();
      expect(seen).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});

// Enrolment and the worker port over real TLS: who gets in, who is refused, and where.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoordinator } from "../src/coordinator.ts";
import { createCsr, createWorkerKeyPair, exportPkcs8Pem, loadOrCreatePki } from "../src/pki/index.ts";
import { enrolmentToken, start, testConfig, until } from "./harness.ts";
import { enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(60_000);

let c: Awaited<ReturnType<typeof start>>;
beforeAll(async () => {
  c = await start();
});
afterAll(async () => {
  await c.cleanup();
});

const answer = { kind: "answer", text: () => "ok" } as const;

async function register(body: unknown) {
  const res = await fetch(`${c.apiUrl}/api/v1/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { code: string; param: string | null; message: string } } & Record<string, unknown>,
  };
}

describe("enrolment", () => {
  test("a token gives a 1-year client certificate for a new node; the CA is at <data-dir>/pki/ca.crt", async () => {
    const id = await enrol(c.apiUrl, await enrolmentToken(c.repo));
    expect(id.caPem).toBe(await Bun.file(join(c.pki.dir, "ca.crt")).text());
    const cert = await c.repo.getCertificate(id.serial);
    expect(cert?.nodeId).toBe(id.nodeId);
    const days = ((cert?.notAfter ?? 0) - (cert?.notBefore ?? 0)) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(367);
  });

  test("a token works once; unknown and expired tokens are refused", async () => {
    const token = await enrolmentToken(c.repo);
    await enrol(c.apiUrl, token);
    const csr = await createCsr(await createWorkerKeyPair(), "x");
    const again = await register({ token, csr });
    expect(again.status).toBe(403);
    expect(again.body.error?.code).toBe("token_used");
    expect((await register({ token: "ggenrol-nope", csr })).body.error?.code).toBe("token_unknown");
    const old = await enrolmentToken(c.repo, -1000);
    expect((await register({ token: old, csr })).body.error?.code).toBe("token_expired");
  });

  test("a bad CSR is a 400 naming csr, and does not use up the token", async () => {
    const token = await enrolmentToken(c.repo);
    const bad = await register({ token, csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----" });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.param).toBe("csr");
    await enrol(c.apiUrl, token); // still good
  });
});

describe("worker port", () => {
  test("an enrolled worker passes TLS, the challenge and registers", async () => {
    const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), answer);
    expect(await w.connect()).toBe(true);
    const row = await c.repo.getWorker(w.id.nodeId);
    expect(row?.status).toBe("idle");
    expect(row?.instanceId).toBe(c.instanceId);
    expect(c.gateway.slots().map((s) => s.nodeId)).toContain(w.id.nodeId);
    w.close();
    await w.closed;
  });

  test("no client certificate: refused at the TLS handshake", async () => {
    const id = await enrol(c.apiUrl, await enrolmentToken(c.repo));
    const ws = new WebSocket(id.workerUrl, { tls: { ca: id.caPem } } as unknown as string[]);
    const outcome = await new Promise<string>((r) => {
      ws.onopen = () => r("open");
      ws.onerror = () => r("error");
      ws.onclose = () => r("closed");
    });
    expect(outcome).not.toBe("open");
  });

  test("a certificate from a rogue CA: refused at the TLS handshake", async () => {
    const rogue = await loadOrCreatePki(mkdtempSync(join(tmpdir(), "rogue-")), { serverNames: ["localhost"] });
    const keys = await createWorkerKeyPair();
    const issued = await rogue.signCsr(await createCsr(keys, "rogue"), "rogue-node");
    const id = await enrol(c.apiUrl, await enrolmentToken(c.repo));
    const w = new SimWorker({ ...id, certPem: issued.pem, keyPem: await exportPkcs8Pem(keys.privateKey) }, answer);
    expect(await w.connect()).toBe(false);
    expect(w.received).toEqual([]); // not even a challenge
  });

  test("an expired certificate: refused", async () => {
    const id = await enrol(c.apiUrl, await enrolmentToken(c.repo));
    const keys = await createWorkerKeyPair();
    const past = new Date(Date.now() - 400 * 86_400_000);
    const old = await c.pki.signCsr(await createCsr(keys, "old"), id.nodeId, past);
    await c.repo.insertCertificate({
      serial: old.serial,
      nodeId: id.nodeId,
      pem: old.pem,
      notBefore: old.notBefore.getTime(),
      notAfter: old.notAfter.getTime(),
    });
    const w = new SimWorker(
      { ...id, certPem: old.pem, serial: old.serial, keyPem: await exportPkcs8Pem(keys.privateKey), privateKey: keys.privateKey },
      answer,
    );
    expect(await w.connect()).toBe(false);
    expect(w.received.some((m) => m.type === "welcome")).toBe(false);
  });

  test("a revoked certificate: the live socket is closed and the next handshake refused", async () => {
    const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), answer);
    expect(await w.connect()).toBe(true);
    expect(await c.revokeWorker(w.id.nodeId, "stolen laptop")).toEqual([w.id.serial]);
    expect((await w.closed).code).toBe(4001);
    const again = new SimWorker(w.id, answer);
    expect(await again.connect()).toBe(false);
    expect(again.received.find((m) => m.type === "error")).toMatchObject({ code: "unauthorized", fatal: true });
  });

  test("after a restart, a revoked certificate is refused at the TLS handshake itself (CRL)", async () => {
    const config = testConfig();
    const first = await startCoordinator(config, () => {});
    const id = await enrol(first.apiUrl, await enrolmentToken(first.repo));
    await first.revokeWorker(id.nodeId, "test");
    await first.stop();
    const second = await startCoordinator(config, () => {});
    try {
      const w = new SimWorker({ ...id, workerUrl: second.workerUrl }, answer);
      expect(await w.connect()).toBe(false);
      expect(w.received).toEqual([]); // no challenge: TLS refused it
    } finally {
      await second.stop();
      rmSync(config.dataDir, { recursive: true, force: true });
    }
  });

  test("a valid certificate whose holder cannot sign the challenge: refused", async () => {
    const id = await enrol(c.apiUrl, await enrolmentToken(c.repo));
    const other = await createWorkerKeyPair();
    const w = new SimWorker(id, answer, { signWith: other.privateKey });
    expect(await w.connect()).toBe(false);
    expect(w.received.find((m) => m.type === "error")).toMatchObject({ code: "unauthorized", fatal: true });
  });

  test("commands and config changes reach one worker or all", async () => {
    const a = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), answer);
    const b = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), answer);
    expect(await a.connect()).toBe(true);
    expect(await b.connect()).toBe(true);
    await c.pushToWorkers(a.id.nodeId, { type: "command", action: "pause", reason: "maintenance", duration_secs: 60 });
    await c.pushToWorkers(null, { type: "config_update", config: { resource_mode: "conservative" } });
    await until(() => b.received.some((m) => m.type === "config_update"), 3000, "config_update");
    await until(() => a.received.some((m) => m.type === "config_update"), 3000, "config_update");
    expect(a.received.find((m) => m.type === "command")).toMatchObject({ action: "pause", reason: "maintenance", duration_secs: 60 });
    expect(b.received.some((m) => m.type === "command")).toBe(false);
    a.close();
    b.close();
  });

  test("garbage frames get errors, and repeated garbage closes the socket", async () => {
    const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), answer);
    expect(await w.connect()).toBe(true);
    for (let i = 0; i < 5; i++) w.ws?.send("{not json");
    const closed = await w.closed;
    expect(closed.code).toBe(1008);
    expect(w.received.filter((m) => m.type === "error").length).toBeGreaterThanOrEqual(4);
  });
});

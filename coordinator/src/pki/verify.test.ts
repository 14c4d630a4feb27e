// Tests for verifyClientCertificate and the post-handshake proof-of-possession check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authChallengePayload, newNonce } from "@gogrid/protocol";
import { createWorkerKeyPair, signChallenge, x509 } from "@gogrid/protocol/identity";
import { loadOrCreatePki, type Pki } from "./ca.ts";
import { DAY_MS, enrolWorker, tempDirs, type WorkerCredentials } from "./test-support.ts";
import { derToP1363, verifyChallengeSignature, verifyClientCertificate, verifyNonceSignature } from "./verify.ts";

const dirs = tempDirs();
let pki: Pki;
let worker: WorkerCredentials;
beforeAll(async () => {
  pki = await loadOrCreatePki(await dirs.make(), { serverNames: ["localhost"], caName: "GoGrid Test CA" });
  worker = await enrolWorker(pki, "node-ok");
});
afterAll(() => dirs.cleanup());

describe("verifyClientCertificate", () => {
  test("accepts a certificate the CA issued and returns node id and serial", async () => {
    const result = await verifyClientCertificate(worker.cert, pki.caCertPem, new Date());
    expect(result).toEqual({ ok: true, nodeId: "node-ok", serial: worker.serial, notAfter: expect.any(Date) });
  });

  test("expired and not-yet-valid certificates", async () => {
    const old = await enrolWorker(pki, "node-old", new Date(Date.now() - 400 * DAY_MS));
    expect(await verifyClientCertificate(old.cert, pki.caCertPem)).toEqual({ ok: false, reason: "expired" });
    const future = await enrolWorker(pki, "node-future", new Date(Date.now() + DAY_MS));
    expect(await verifyClientCertificate(future.cert, pki.caCertPem)).toEqual({ ok: false, reason: "not_yet_valid" });
    expect((await verifyClientCertificate(old.cert, pki.caCertPem, new Date(Date.now() - 300 * DAY_MS))).ok).toBe(true);
  });

  test("a rogue CA's certificate is wrong_issuer, even when the rogue CA copies the CA's name", async () => {
    const rogue = await loadOrCreatePki(await dirs.make(), { serverNames: ["localhost"] });
    const fromRogue = await enrolWorker(rogue, "node-ok");
    expect(await verifyClientCertificate(fromRogue.cert, pki.caCertPem)).toEqual({ ok: false, reason: "wrong_issuer" });

    const twin = await loadOrCreatePki(await dirs.make(), { serverNames: ["localhost"], caName: "GoGrid Test CA" });
    const fromTwin = await enrolWorker(twin, "node-ok");
    expect(new x509.X509Certificate(fromTwin.cert).issuer).toBe(new x509.X509Certificate(pki.caCertPem).subject);
    expect(await verifyClientCertificate(fromTwin.cert, pki.caCertPem)).toEqual({ ok: false, reason: "wrong_issuer" });
  });

  test("a tampered certificate is bad_signature", async () => {
    const der = new Uint8Array(new x509.X509Certificate(worker.cert).rawData);
    const at = Buffer.from(der).indexOf("node-ok");
    der[at + 5] = "x".charCodeAt(0); // CN=node-xk
    const tampered = x509.PemConverter.encode(der, "CERTIFICATE");
    expect(await verifyClientCertificate(tampered, pki.caCertPem)).toEqual({ ok: false, reason: "bad_signature" });
  });

  test("the server certificate (serverAuth) and the CA itself are not_client_auth", async () => {
    expect(await verifyClientCertificate(pki.serverCertPem, pki.caCertPem)).toEqual({ ok: false, reason: "not_client_auth" });
    expect(await verifyClientCertificate(pki.caCertPem, pki.caCertPem)).toEqual({ ok: false, reason: "not_client_auth" });
  });

  test("garbage is malformed; a garbage CA is a programming error", async () => {
    expect(await verifyClientCertificate("garbage", pki.caCertPem)).toEqual({ ok: false, reason: "malformed" });
    expect(await verifyClientCertificate("", pki.caCertPem)).toEqual({ ok: false, reason: "malformed" });
    await expect(verifyClientCertificate(worker.cert, "garbage")).rejects.toThrow(TypeError);
  });
});

/** The DER ECDSA-Sig-Value for a 64-byte r||s signature (what OpenSSL-style signers emit). */
function p1363ToDer(sig: Uint8Array): Uint8Array {
  const int = (bytes: Uint8Array) => {
    let v = bytes;
    while (v.length > 1 && v[0] === 0 && ((v[1] ?? 0) & 0x80) === 0) v = v.subarray(1);
    if ((v[0] ?? 0) & 0x80) v = Uint8Array.of(0, ...v);
    return Uint8Array.of(0x02, v.length, ...v);
  };
  const body = Uint8Array.of(...int(sig.subarray(0, 32)), ...int(sig.subarray(32)));
  return Uint8Array.of(0x30, body.length, ...body);
}

describe("verifyChallengeSignature", () => {
  test("a real signature over the auth payload verifies, in P1363 and in DER form", async () => {
    const nonce = newNonce();
    const payload = authChallengePayload(nonce);
    const signature = await signChallenge(worker.keys.privateKey, payload);
    expect(Buffer.from(signature, "base64")).toHaveLength(64);
    expect(await verifyChallengeSignature(worker.cert, payload, signature)).toBe(true);
    expect(await verifyNonceSignature(worker.cert, nonce, signature)).toBe(true);

    const der = p1363ToDer(Buffer.from(signature, "base64"));
    expect(derToP1363(der)).toEqual(new Uint8Array(Buffer.from(signature, "base64")));
    expect(await verifyChallengeSignature(worker.cert, payload, Buffer.from(der).toString("base64"))).toBe(true);
  });

  test("wrong key, wrong payload, garbage and truncated signatures are false", async () => {
    const payload = authChallengePayload(newNonce());
    const signature = await signChallenge(worker.keys.privateKey, payload);
    const stranger = await createWorkerKeyPair();
    expect(await verifyChallengeSignature(worker.cert, payload, await signChallenge(stranger.privateKey, payload))).toBe(false);
    expect(await verifyChallengeSignature(worker.cert, authChallengePayload(newNonce()), signature)).toBe(false);
    expect(await verifyNonceSignature(worker.cert, newNonce(), signature)).toBe(false);
    expect(await verifyNonceSignature(worker.cert, "not a nonce", signature)).toBe(false);
    expect(await verifyChallengeSignature(worker.cert, payload, "%%% not base64 %%%")).toBe(false);
    expect(await verifyChallengeSignature(worker.cert, payload, "")).toBe(false);
    expect(await verifyChallengeSignature(worker.cert, payload, signature.slice(0, 40))).toBe(false);
    expect(await verifyChallengeSignature(worker.cert, payload, Buffer.alloc(64).toString("base64"))).toBe(false);
    expect(await verifyChallengeSignature(worker.cert, payload, Buffer.alloc(70, 0x30).toString("base64"))).toBe(false);
    expect(await verifyChallengeSignature("garbage", payload, signature)).toBe(false);
  });

  test("derToP1363 refuses malformed DER", () => {
    const good = p1363ToDer(new Uint8Array(64).fill(0x11));
    expect(derToP1363(good)).toEqual(new Uint8Array(64).fill(0x11));
    expect(derToP1363(good.subarray(0, good.length - 1))).toBeNull();
    expect(derToP1363(Uint8Array.of(...good, 0))).toBeNull();
    expect(derToP1363(Uint8Array.of(0x30, 6, 0x02, 1, 0x80, 0x02, 1, 1))).toBeNull(); // negative r
    expect(derToP1363(Uint8Array.of(0x30, 6, 0x04, 1, 1, 0x02, 1, 1))).toBeNull();
  });
});

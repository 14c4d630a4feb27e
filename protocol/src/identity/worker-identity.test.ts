// Tests for the worker identity helpers: key PEM round trip, CSR contents, challenge signatures.
import { describe, expect, test } from "bun:test";
import { authChallengePayload, newNonce } from "@gogrid/protocol";
import { PkiError } from "./errors.ts";
import { createCsr, createWorkerKeyPair, exportPkcs8Pem, importPkcs8Pem, signChallenge } from "./worker-identity.ts";
import { x509 } from "./x509.ts";

describe("worker identity", () => {
  test("a key pair survives PKCS#8 PEM export and import", async () => {
    const keys = await createWorkerKeyPair();
    const pem = await exportPkcs8Pem(keys.privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n?$/);
    const imported = await importPkcs8Pem(pem);
    expect(imported.privateKey.extractable).toBe(false);
    expect(new Uint8Array(await crypto.subtle.exportKey("spki", imported.publicKey))).toEqual(
      new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
    );
    const payload = authChallengePayload(newNonce());
    const signature = Buffer.from(await signChallenge(imported.privateKey, payload), "base64");
    expect(signature).toHaveLength(64);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, signature, payload)).toBe(true);
  });

  test("importPkcs8Pem refuses other PEM and other key types", async () => {
    await expect(importPkcs8Pem("garbage")).rejects.toThrow(PkiError);
    const p384 = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const error = await importPkcs8Pem(await exportPkcs8Pem(p384.privateKey)).catch((e: unknown) => e);
    expect((error as PkiError).code).toBe("malformed_pem");
  });

  test("createCsr makes a self-signed P-256 request with the given CN", async () => {
    const keys = await createWorkerKeyPair();
    const pem = await createCsr(keys, "gaming-pc");
    expect(pem).toStartWith("-----BEGIN CERTIFICATE REQUEST-----");
    const csr = new x509.Pkcs10CertificateRequest(pem);
    expect(csr.subject).toBe("CN=gaming-pc");
    expect(await csr.verify()).toBe(true);
    expect(csr.publicKey.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-256" });
    expect(csr.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
  });
});

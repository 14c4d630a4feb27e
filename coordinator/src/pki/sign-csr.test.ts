// Tests for Pki.signCsr: what the issued client certificate holds, and which CSRs are refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createCsr, createWorkerKeyPair, x509 } from "@gogrid/protocol/identity";
import { loadOrCreatePki, type Pki } from "./ca.ts";
import { CsrError, type PkiError } from "./errors.ts";
import { DAY_MS, tempDirs } from "./test-support.ts";

const dirs = tempDirs();
let pki: Pki;
beforeAll(async () => {
  pki = await loadOrCreatePki(await dirs.make(), { serverNames: ["localhost"] });
});
afterAll(() => dirs.cleanup());

async function csrError(csrPem: string): Promise<CsrError> {
  const error = await pki.signCsr(csrPem, "node-1").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CsrError);
  expect((error as CsrError).code).toBe("invalid_csr");
  return error as CsrError;
}

describe("signCsr", () => {
  test("issues CN=nodeId, clientAuth only, digitalSignature, CA:false, 1 year, key ids, random serial", async () => {
    const keys = await createWorkerKeyPair();
    const now = new Date("2026-03-01T12:00:00Z");
    const issued = await pki.signCsr(await createCsr(keys, "my-desktop"), "3f1c0e9a-5d1b-4c1e-9a8b-0c2d4e6f8a10", now);
    const cert = new x509.X509Certificate(issued.pem);
    const ca = new x509.X509Certificate(pki.caCertPem);

    expect(await cert.verify({ publicKey: ca.publicKey, date: now })).toBe(true);
    expect(cert.subject).toBe("CN=3f1c0e9a-5d1b-4c1e-9a8b-0c2d4e6f8a10");
    expect(cert.issuer).toBe(ca.subject);
    expect(issued.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(issued.serial).toBe(cert.serialNumber.toLowerCase());
    expect(issued.notBefore).toEqual(cert.notBefore);
    expect(issued.notAfter).toEqual(cert.notAfter);
    expect(issued.notAfter.getTime() - now.getTime()).toBe(365 * DAY_MS);
    expect(issued.notBefore.getTime()).toBeLessThanOrEqual(now.getTime());

    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    expect(eku?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(ku?.critical).toBe(true);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
    expect(new Uint8Array(cert.publicKey.rawData)).toEqual(spki);

    const again = await pki.signCsr(await createCsr(keys, "my-desktop"), "node-2");
    expect(again.serial).not.toBe(issued.serial);
  });

  test("ignores a CSR that asks for CA:true, serverAuth, other names and key usages", async () => {
    const keys = await createWorkerKeyPair();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=coordinator, O=Evil",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.codeSigning]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }]),
      ],
    });
    const cert = new x509.X509Certificate((await pki.signCsr(csr.toString("pem"), "node-9")).pem);
    expect(cert.subject).toBe("CN=node-9");
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)).toBeNull();
    expect(cert.extensions.map((e) => e.type).sort()).toEqual(["2.5.29.14", "2.5.29.15", "2.5.29.19", "2.5.29.35", "2.5.29.37"]);
  });

  test("refuses input that is not a PEM CSR", async () => {
    expect((await csrError("garbage")).message).toContain("not PEM");
    expect((await csrError(pki.caCertPem)).message).toContain("not PEM");
    expect((await csrError("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")).message).toContain(
      "not a valid PKCS#10",
    );
    expect((await csrError("x".repeat(20_000))).message).toContain("at most");
  });

  test("refuses a CSR whose self-signature does not verify", async () => {
    const csr = new x509.Pkcs10CertificateRequest(await createCsr(await createWorkerKeyPair(), "honest-worker"));
    const der = new Uint8Array(csr.rawData);
    const at = Buffer.from(der).indexOf("honest-worker");
    der[at] = "H".charCodeAt(0); // still parses, signature no longer matches
    const tampered = x509.PemConverter.encode(der, "CERTIFICATE REQUEST");
    expect(new x509.Pkcs10CertificateRequest(tampered).subject).toBe("CN=Honest-worker");
    expect((await csrError(tampered)).message).toContain("signature does not verify");
  });

  test("refuses keys other than ECDSA P-256 (RSA, P-384)", async () => {
    const rsa = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const rsaCsr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=rsa",
      keys: rsa,
      signingAlgorithm: rsa.privateKey.algorithm,
    });
    expect((await csrError(rsaCsr.toString("pem"))).message).toContain("must be ECDSA P-256, got RSASSA-PKCS1-v1_5");

    const p384 = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const p384Csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=p384",
      keys: p384,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-384" },
    });
    expect((await csrError(p384Csr.toString("pem"))).message).toContain("got ECDSA P-384");
  });

  test("refuses node ids that cannot be a plain CN", async () => {
    const csr = await createCsr(await createWorkerKeyPair(), "w");
    for (const nodeId of ["", "a,CN=admin", "x".repeat(65), " lead"]) {
      const error = await pki.signCsr(csr, nodeId).catch((e: unknown) => e);
      expect((error as PkiError).code).toBe("invalid_node_id");
    }
  });
});

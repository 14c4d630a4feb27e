// Tests for loadOrCreatePki: first start, reuse, server certificate reissue, file modes, CRLs.
import { afterAll, describe, expect, test } from "bun:test";
import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { x509 } from "@gogrid/protocol/identity";
import { loadOrCreatePki } from "./ca.ts";
import { PkiError } from "./errors.ts";
import { DAY_MS, enrolWorker, SERVER_NAMES, tempDirs } from "./test-support.ts";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const mode = async (path: string) => (await stat(path)).mode & 0o777;
const fingerprint = async (pem: string) => Buffer.from(await new x509.X509Certificate(pem).getThumbprint("SHA-256")).toString("hex");

describe("loadOrCreatePki", () => {
  test("first start creates the CA and server certificate files, keys 0600", async () => {
    const dir = await dirs.make();
    const pki = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES], caName: "Test CA" });
    expect(pki.changes).toEqual({ caCreated: true, serverIssued: "missing" });
    expect(await readFile(join(dir, "ca.crt"), "utf8")).toBe(pki.caCertPem);
    expect(await readFile(join(dir, "server.crt"), "utf8")).toBe(pki.serverCertPem);
    expect(await readFile(join(dir, "server.key"), "utf8")).toBe(pki.serverKeyPem);
    expect(await mode(join(dir, "ca.key"))).toBe(0o600);
    expect(await mode(join(dir, "server.key"))).toBe(0o600);
    expect(pki.serverKeyPem).toStartWith("-----BEGIN PRIVATE KEY-----");
    expect(await readFile(join(dir, "ca.key"), "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----");

    const ca = new x509.X509Certificate(pki.caCertPem);
    expect(ca.subject).toBe("CN=Test CA, O=GoGrid");
    expect(await ca.isSelfSigned()).toBe(true);
    expect(ca.publicKey.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-256" });
    const bc = ca.getExtension(x509.BasicConstraintsExtension);
    expect(bc?.ca).toBe(true);
    expect(bc?.critical).toBe(true);
    expect(ca.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ca.notAfter.getTime() - Date.now()).toBeGreaterThan(3649 * DAY_MS);

    const server = new x509.X509Certificate(pki.serverCertPem);
    expect(await server.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    expect(server.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(server.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
      { type: "dns", value: "localhost" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" },
    ]);
    const days = (server.notAfter.getTime() - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(729);
    expect(days).toBeLessThan(731);
    expect(pki.serverSpkiSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  test("a second start reuses the CA and the server certificate", async () => {
    const dir = await dirs.make();
    const first = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    const second = await loadOrCreatePki(dir, { serverNames: ["::1", "LOCALHOST", "127.0.0.1"] });
    expect(second.changes).toEqual({ caCreated: false, serverIssued: null });
    expect(await fingerprint(second.caCertPem)).toBe(await fingerprint(first.caCertPem));
    expect(second.serverCertPem).toBe(first.serverCertPem);
    // the reloaded CA key still signs certificates that chain to the same CA
    const worker = await enrolWorker(second, "node-a");
    const cert = new x509.X509Certificate(worker.cert);
    expect(await cert.verify({ publicKey: new x509.X509Certificate(first.caCertPem).publicKey, signatureOnly: true })).toBe(true);
  });

  test("changed serverNames reissue the server certificate, keeping the CA and the server key (pin)", async () => {
    const dir = await dirs.make();
    const first = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    const second = await loadOrCreatePki(dir, { serverNames: ["gogrid.example.com", "10.0.0.5"] });
    expect(second.changes).toEqual({ caCreated: false, serverIssued: "names_changed" });
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(second.serverCertPem).not.toBe(first.serverCertPem);
    expect(second.serverSpkiSha256).toBe(first.serverSpkiSha256);
    const names = new x509.X509Certificate(second.serverCertPem).getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
    expect(names).toEqual([
      { type: "dns", value: "gogrid.example.com" },
      { type: "ip", value: "10.0.0.5" },
    ]);
    expect(await readFile(join(dir, "server.crt"), "utf8")).toBe(second.serverCertPem);
  });

  test("a server certificate expiring within 30 days is reissued", async () => {
    const dir = await dirs.make();
    const first = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    const later = new Date(Date.now() + 710 * DAY_MS);
    const second = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES], now: later });
    expect(second.changes.serverIssued).toBe("expiring");
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(new x509.X509Certificate(second.serverCertPem).notAfter.getTime()).toBeGreaterThan(later.getTime() + 729 * DAY_MS);
  });

  test("a lost server key gets a new key and certificate; a loose key mode is narrowed to 0600", async () => {
    const dir = await dirs.make();
    const first = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    await chmod(join(dir, "ca.key"), 0o644);
    await rm(join(dir, "server.key"));
    const second = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    expect(second.changes.serverIssued).toBe("missing");
    expect(second.serverSpkiSha256).not.toBe(first.serverSpkiSha256);
    expect(await mode(join(dir, "ca.key"))).toBe(0o600);
    expect(await mode(join(dir, "server.key"))).toBe(0o600);
  });

  test("a corrupt server key or a server cert from another CA is replaced", async () => {
    const dir = await dirs.make();
    const other = await dirs.make();
    await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    await loadOrCreatePki(other, { serverNames: [...SERVER_NAMES] });
    await writeFile(join(dir, "server.crt"), await readFile(join(other, "server.crt")));
    expect((await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] })).changes.serverIssued).toBe("other_issuer");
    await writeFile(join(dir, "server.key"), "not a key");
    const fixed = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    expect(fixed.changes.serverIssued).toBe("unreadable");
    expect(await readFile(join(dir, "server.key"), "utf8")).toBe(fixed.serverKeyPem);
    expect((await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] })).changes.serverIssued).toBeNull();
  });

  test("a CA certificate without its key is refused, not silently replaced", async () => {
    const dir = await dirs.make();
    await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    await rm(join(dir, "ca.key"));
    const error = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PkiError);
    expect((error as PkiError).code).toBe("pki_incomplete");
  });

  test("a CA key that does not match ca.crt is refused", async () => {
    const dir = await dirs.make();
    const other = await dirs.make();
    await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] });
    await loadOrCreatePki(other, { serverNames: [...SERVER_NAMES] });
    await writeFile(join(dir, "ca.key"), await readFile(join(other, "ca.key")));
    const error = await loadOrCreatePki(dir, { serverNames: [...SERVER_NAMES] }).catch((e: unknown) => e);
    expect((error as PkiError).code).toBe("key_mismatch");
  });

  test("bad serverNames are refused before anything is written", async () => {
    const dir = await dirs.make();
    for (const serverNames of [[], ["bad name!"], [""]]) {
      const error = await loadOrCreatePki(dir, { serverNames }).catch((e: unknown) => e);
      expect((error as PkiError).code).toBe("invalid_option");
    }
    expect(await stat(dir).catch(() => null)).toBeNull();
  });
});

describe("crlPem", () => {
  test("is an X509 CRL signed by the CA listing the revoked serials", async () => {
    const pki = await loadOrCreatePki(await dirs.make(), { serverNames: [...SERVER_NAMES] });
    const worker = await enrolWorker(pki, "node-revoked");
    const revokedAt = new Date("2026-01-02T03:04:05Z");
    const pem = await pki.crlPem([{ serial: worker.serial, revokedAt: revokedAt.getTime() }]);
    expect(pem).toStartWith("-----BEGIN X509 CRL-----");
    const crl = new x509.X509Crl(pem);
    const ca = new x509.X509Certificate(pki.caCertPem);
    expect(crl.issuer).toBe(ca.subject);
    expect(await crl.verify({ publicKey: ca })).toBe(true);
    expect(crl.nextUpdate?.getTime()).toBe(ca.notAfter.getTime());
    const entry = crl.findRevoked(new x509.X509Certificate(worker.cert));
    expect(entry?.revocationDate.toISOString()).toBe(revokedAt.toISOString());
    expect(entry?.reason).toBe(x509.X509CrlReason.privilegeWithdrawn);
    expect(crl.findRevoked(new x509.X509Certificate(pki.serverCertPem))).toBeNull();
    expect(new x509.X509Crl(await pki.crlPem([])).entries).toHaveLength(0);
    await expect(pki.crlPem([{ serial: "not hex", revokedAt: 0 }])).rejects.toThrow(PkiError);
  });
});

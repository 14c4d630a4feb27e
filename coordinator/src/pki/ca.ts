// The coordinator's CA and TLS server certificate, kept as PEM files in one directory (no database).
import { join } from "node:path";
import { exportPkcs8Pem, generateP256KeyPair, importPkcs8Pem, spkiDer, spkiSha256, x509 } from "@gogrid/protocol/identity";
import { checkCsr } from "./csr.ts";
import { PkiError } from "./errors.ts";
import { ensurePrivateMode, PRIVATE_MODE, PUBLIC_MODE, readIfExists, writeFileAtomic } from "./files.ts";
import {
  type CaMaterial,
  certificateSanKey,
  createCaCertificate,
  createClientCertificate,
  createCrlPem,
  createServerCertificate,
  type RevokedCertificate,
  sanKey,
  serverNameSans,
} from "./issue.ts";

export { spkiSha256 } from "@gogrid/protocol/identity";
export type { RevokedCertificate } from "./issue.ts";

type X509Certificate = InstanceType<typeof x509.X509Certificate>;

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";
export const SERVER_CERT_FILE = "server.crt";
export const SERVER_KEY_FILE = "server.key";
/** A server certificate that expires within this window is reissued at start-up. */
export const SERVER_RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export interface PkiOptions {
  /** DNS names and IP addresses the worker port is reached by, e.g. ["localhost", "127.0.0.1", "::1"]. */
  readonly serverNames: readonly string[];
  /** CN of a newly created CA (default "GoGrid CA <random hex>"). Ignored when the CA already exists. */
  readonly caName?: string;
  /** The clock, for tests. */
  readonly now?: Date;
}

/** What loadOrCreatePki had to do, so the caller can log it. */
export interface PkiChanges {
  readonly caCreated: boolean;
  /** Why the server certificate was (re)issued at this start, or null when the stored one was kept. */
  readonly serverIssued: null | "missing" | "unreadable" | "names_changed" | "expiring" | "not_yet_valid" | "other_issuer" | "key_mismatch";
}

/** A certificate issued to a worker; the caller stores it (serial is the lower-case hex key). */
export interface IssuedCertificate {
  readonly pem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface Pki {
  readonly dir: string;
  readonly caCertPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  /** Base64 SHA-256 of the server certificate's SubjectPublicKeyInfo: the pin workers keep. */
  readonly serverSpkiSha256: string;
  readonly changes: PkiChanges;
  /** Base64 SHA-256 of a certificate's SubjectPublicKeyInfo (same as the standalone spkiSha256). */
  spkiSha256(certPem: string): string;
  /**
   * Issues a client certificate for `nodeId` from a worker's CSR: CN=nodeId, clientAuth only,
   * one year. The CSR contributes only its public key. Throws CsrError ("invalid_csr").
   */
  signCsr(csrPem: string, nodeId: string, now?: Date): Promise<IssuedCertificate>;
  /** A PEM CRL signed by the CA listing `revoked`, for Bun's `tls.crl`; nextUpdate defaults to the CA's expiry. */
  crlPem(revoked: readonly RevokedCertificate[], now?: Date, nextUpdate?: Date): Promise<string>;
}

class FilePki implements Pki {
  readonly serverSpkiSha256: string;

  constructor(
    readonly dir: string,
    private readonly ca: CaMaterial,
    readonly caCertPem: string,
    readonly serverCertPem: string,
    readonly serverKeyPem: string,
    readonly changes: PkiChanges,
  ) {
    this.serverSpkiSha256 = spkiSha256(serverCertPem);
  }

  spkiSha256(certPem: string): string {
    return spkiSha256(certPem);
  }

  async signCsr(csrPem: string, nodeId: string, now: Date = new Date()): Promise<IssuedCertificate> {
    const publicKey = await checkCsr(csrPem);
    const cert = await createClientCertificate(this.ca, publicKey, nodeId, now);
    return { pem: cert.toString("pem"), serial: cert.serialNumber.toLowerCase(), notBefore: cert.notBefore, notAfter: cert.notAfter };
  }

  async crlPem(revoked: readonly RevokedCertificate[], now: Date = new Date(), nextUpdate?: Date): Promise<string> {
    return await createCrlPem(this.ca, revoked, now, nextUpdate);
  }
}

function parseCertificate(pem: string): X509Certificate | null {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return null;
  }
}

function sameBytes(a: ArrayBuffer | Uint8Array, b: ArrayBuffer | Uint8Array): boolean {
  return Buffer.from(new Uint8Array(a)).equals(Buffer.from(new Uint8Array(b)));
}

async function loadOrCreateCa(
  dir: string,
  caName: string | undefined,
  now: Date,
): Promise<{ ca: CaMaterial; pem: string; created: boolean }> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (certPem === null) {
    // No ca.crt: nothing was ever issued by this CA (a lone ca.key is a start that died mid-way).
    const name = caName ?? `GoGrid CA ${Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex")}`;
    if (name.length === 0 || name.length > 64) throw new PkiError("invalid_option", "caName must be 1-64 characters");
    const keys = await generateP256KeyPair();
    const cert = await createCaCertificate(keys, name, now);
    const pem = cert.toString("pem");
    const privatePem = await exportPkcs8Pem(keys.privateKey);
    await writeFileAtomic(keyPath, privatePem, PRIVATE_MODE);
    await writeFileAtomic(certPath, pem, PUBLIC_MODE);
    return { ca: { cert, privateKey: (await importPkcs8Pem(privatePem)).privateKey }, pem, created: true };
  }
  if (keyPem === null) {
    throw new PkiError(
      "pki_incomplete",
      `${keyPath} is missing but ${certPath} exists: restore the CA key, or move ${certPath} away to create a new CA (every worker must then enrol again)`,
    );
  }
  const cert = parseCertificate(certPem);
  if (!cert) throw new PkiError("malformed_pem", `${certPath} is not a PEM certificate`);
  await ensurePrivateMode(keyPath);
  const keys = await importPkcs8Pem(keyPem);
  if (!sameBytes(await spkiDer(keys.publicKey), cert.publicKey.rawData)) {
    throw new PkiError("key_mismatch", `${keyPath} does not hold the private key of ${certPath}`);
  }
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw new PkiError(
      "ca_expired",
      `the CA in ${certPath} expired on ${cert.notAfter.toISOString()}; create a new CA (workers must enrol again)`,
    );
  }
  return { ca: { cert, privateKey: keys.privateKey }, pem: certPem, created: false };
}

async function serverCertProblem(
  cert: X509Certificate | null,
  keys: CryptoKeyPair | null,
  ca: CaMaterial,
  serverNames: readonly string[],
  now: Date,
): Promise<PkiChanges["serverIssued"]> {
  if (!cert) return "unreadable";
  if (cert.issuer !== ca.cert.subject || !(await cert.verify({ publicKey: ca.cert.publicKey, signatureOnly: true }))) return "other_issuer";
  if (!keys || !sameBytes(await spkiDer(keys.publicKey), cert.publicKey.rawData)) return "key_mismatch";
  if (certificateSanKey(cert) !== sanKey(serverNameSans(serverNames))) return "names_changed";
  if (cert.notBefore.getTime() > now.getTime()) return "not_yet_valid";
  if (cert.notAfter.getTime() - now.getTime() < SERVER_RENEW_BEFORE_MS) return "expiring";
  return null;
}

async function importKeyOrNull(pem: string | null): Promise<{ pem: string; keys: CryptoKeyPair } | null> {
  if (pem === null) return null;
  try {
    return { pem, keys: await importPkcs8Pem(pem) };
  } catch {
    return null;
  }
}

/** The server certificate and key in `dir`, (re)issued when serverCertProblem finds a reason. */
async function loadOrIssueServer(
  dir: string,
  ca: CaMaterial,
  serverNames: readonly string[],
  now: Date,
): Promise<{ certPem: string; keyPem: string; issued: PkiChanges["serverIssued"] }> {
  const certPath = join(dir, SERVER_CERT_FILE);
  const keyPath = join(dir, SERVER_KEY_FILE);
  const [storedCert, storedKey] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  let key = await importKeyOrNull(storedKey);
  let issued: PkiChanges["serverIssued"];
  if (storedCert === null || storedKey === null) issued = "missing";
  else if (key === null) issued = "unreadable";
  else issued = await serverCertProblem(parseCertificate(storedCert), key.keys, ca, serverNames, now);

  if (issued === null && storedCert !== null && key !== null) {
    await ensurePrivateMode(keyPath);
    return { certPem: storedCert, keyPem: key.pem, issued };
  }
  if (key === null) {
    const keys = await generateP256KeyPair();
    key = { pem: await exportPkcs8Pem(keys.privateKey), keys };
    await writeFileAtomic(keyPath, key.pem, PRIVATE_MODE);
  }
  const certPem = (await createServerCertificate(ca, key.keys.publicKey, serverNames, now)).toString("pem");
  await writeFileAtomic(certPath, certPem, PUBLIC_MODE);
  return { certPem, keyPem: key.pem, issued };
}

/**
 * Loads the PKI kept in `dir`, creating what is missing. First start: a P-256 CA (10 years) and
 * a server certificate (2 years) for `serverNames`. Later starts keep the CA and reissue the
 * server certificate when its names differ from `serverNames`, it expires within 30 days, or it
 * does not match its key or the CA. A reissue keeps a readable server key, so workers' SPKI pins
 * survive it. Files: ca.crt, ca.key (0600), server.crt, server.key (0600), written atomically.
 * One process per directory: concurrent first starts on the same directory are not coordinated.
 */
export async function loadOrCreatePki(dir: string, opts: PkiOptions): Promise<Pki> {
  const now = opts.now ?? new Date();
  serverNameSans(opts.serverNames); // fail on bad names before touching the disk
  const { ca, pem: caPem, created } = await loadOrCreateCa(dir, opts.caName, now);
  const server = await loadOrIssueServer(dir, ca, opts.serverNames, now);
  return new FilePki(dir, ca, caPem, server.certPem, server.keyPem, { caCreated: created, serverIssued: server.issued });
}

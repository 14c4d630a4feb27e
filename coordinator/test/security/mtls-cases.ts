// The mTLS matrix's credentials: one control worker and each way a worker can be wrongly credentialed.
import { join } from "node:path";
import { createCsr, ECDSA_SHA256, importPkcs8Pem, x509 } from "@gogrid/protocol/identity";
import type { Coordinator } from "../../src/coordinator.ts";
import { createWorkerKeyPair, exportPkcs8Pem, loadOrCreatePki } from "../../src/pki/index.ts";
import { enrol } from "../sim-worker.ts";

type X509Certificate = InstanceType<typeof x509.X509Certificate>;

/** What one connection attempt presents: a TLS client certificate (or none) and its answer to the nonce. */
export interface MtlsCase {
  readonly name: MtlsCaseName;
  /** What is wrong with it, in words. */
  readonly what: string;
  /** Only the control is meant to get in. */
  readonly expectAccepted: boolean;
  /** The client certificate and key offered in the TLS handshake; absent for "no certificate". */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  /** The serial claimed in auth_response, and the key that signs the nonce. */
  readonly serial: string;
  readonly signWith: CryptoKey;
}

export const MTLS_CASE_NAMES = [
  "control",
  "no_certificate",
  "other_ca",
  "self_signed",
  "expired",
  "not_yet_valid",
  "revoked_in_crl",
  "revoked_live",
  "wrong_eku",
  "certificate_without_key",
] as const;
export type MtlsCaseName = (typeof MTLS_CASE_NAMES)[number];

/** An enrolled worker that keeps its whole key pair (the forged certificates reuse its public key). */
export interface Enrolled {
  readonly nodeId: string;
  readonly serial: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly keys: CryptoKeyPair;
}

const DAY_MS = 86_400_000;

/** Enrols through the real endpoint with a fresh key pair (the certificate's CN is the node id whatever the CSR says). */
export async function enrolWithKeys(apiUrl: string, token: string): Promise<Enrolled> {
  return await enrol(apiUrl, token, "mtls-matrix");
}

interface ForgeOptions {
  /** The signer: a CA certificate and its key, or "self" (signed by the subject's own key). */
  issuer: { cert: X509Certificate; key: CryptoKey } | "self";
  subject: CryptoKeyPair;
  cn: string;
  serial: string;
  eku: string[];
  notBefore?: Date;
  notAfter?: Date;
}

/** A leaf certificate shaped like the ones our CA issues, but with whatever signer, serial and EKU. */
async function forge(o: ForgeOptions): Promise<string> {
  const notBefore = o.notBefore ?? new Date(Date.now() - 300_000);
  const notAfter = o.notAfter ?? new Date(Date.now() + 365 * DAY_MS);
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(o.eku, false),
    await x509.SubjectKeyIdentifierExtension.create(o.subject.publicKey),
  ];
  if (o.issuer === "self") {
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: o.serial,
      name: [{ CN: [o.cn] }],
      notBefore,
      notAfter,
      keys: o.subject,
      signingAlgorithm: ECDSA_SHA256,
      extensions,
    });
    return cert.toString("pem");
  }
  const ski = o.issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serial,
    subject: [{ CN: [o.cn] }],
    issuer: o.issuer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: o.subject.publicKey,
    signingKey: o.issuer.key,
    signingAlgorithm: ECDSA_SHA256,
    extensions: ski ? [...extensions, new x509.AuthorityKeyIdentifierExtension(ski.keyId)] : extensions,
  });
  return cert.toString("pem");
}

async function caOf(pkiDir: string): Promise<{ cert: X509Certificate; key: CryptoKey }> {
  const cert = new x509.X509Certificate(await Bun.file(join(pkiDir, "ca.crt")).text());
  const { privateKey } = await importPkcs8Pem(await Bun.file(join(pkiDir, "ca.key")).text());
  return { cert, key: privateKey };
}

/** Stores an extra certificate for a node, as if the CA had issued and recorded it. */
async function record(c: Coordinator, nodeId: string, pem: string): Promise<string> {
  const cert = new x509.X509Certificate(pem);
  const serial = cert.serialNumber.toLowerCase();
  await c.repo.insertCertificate({ serial, nodeId, pem, notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() });
  return serial;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString("hex");
}

export interface CaseInputs {
  coordinator: Coordinator;
  /** A new single-use enrolment token for this coordinator. */
  token(): Promise<string>;
  /** A worker revoked before this coordinator started, so its serial is in the listener's CRL. */
  revokedBeforeStart: Enrolled;
  /** A scratch directory for the rogue CA. */
  scratchDir: string;
}

/**
 * Builds every case. Each refused case holds everything else a worker would need (where the case
 * allows, the control's own key and serial), so only the property under test keeps it out.
 */
export async function buildCases(inputs: CaseInputs): Promise<MtlsCase[]> {
  const c = inputs.coordinator;
  const enrolNew = async () => enrolWithKeys(c.apiUrl, await inputs.token());
  const control = await enrolNew();
  const holder = await enrolNew(); // owns the expired, not-yet-valid and mis-issued certificates
  const attacker = await enrolNew(); // an honest enrolment, used to impersonate the control
  const revokedLive = await enrolNew();
  await c.revokeWorker(revokedLive.nodeId, "mtls matrix: revoked while the coordinator runs");
  const ours = await caOf(c.pki.dir);
  const rogue = await caOf((await loadOrCreatePki(join(inputs.scratchDir, "rogue-pki"), { serverNames: ["localhost"] })).dir);

  const fresh = async () => {
    const keys = await createWorkerKeyPair();
    return { keys, keyPem: await exportPkcs8Pem(keys.privateKey) };
  };
  const expiredKey = await fresh();
  const expired = await c.pki.signCsr(await createCsr(expiredKey.keys, "old"), holder.nodeId, new Date(Date.now() - 400 * DAY_MS));
  await record(c, holder.nodeId, expired.pem);
  const futureKey = await fresh();
  const future = await c.pki.signCsr(await createCsr(futureKey.keys, "future"), holder.nodeId, new Date(Date.now() + 30 * DAY_MS));
  await record(c, holder.nodeId, future.pem);
  const ekuKey = await fresh();
  const wrongEku = await forge({
    issuer: ours,
    subject: ekuKey.keys,
    cn: holder.nodeId,
    serial: randomSerial(),
    eku: [x509.ExtendedKeyUsage.serverAuth],
  });
  const wrongEkuSerial = await record(c, holder.nodeId, wrongEku);

  const asControl = { serial: control.serial, signWith: control.keys.privateKey };
  const impostor = (how: "self" | "rogue") =>
    forge({
      issuer: how === "self" ? "self" : rogue,
      subject: control.keys,
      cn: control.nodeId,
      serial: control.serial,
      eku: [x509.ExtendedKeyUsage.clientAuth],
    });
  const tlsOf = (e: { certPem: string; keyPem: string }) => ({ cert: e.certPem, key: e.keyPem });
  const r = inputs.revokedBeforeStart;
  return [
    { name: "control", what: "a valid enrolled worker", expectAccepted: true, tls: tlsOf(control), ...asControl },
    {
      name: "no_certificate",
      what: "no client certificate (holds the control's key)",
      expectAccepted: false,
      tls: null,
      ...asControl,
    },
    {
      name: "other_ca",
      what: "the control's key, CN and serial, signed by another CA",
      expectAccepted: false,
      tls: { cert: await impostor("rogue"), key: control.keyPem },
      ...asControl,
    },
    {
      name: "self_signed",
      what: "the control's key, CN and serial, self-signed",
      expectAccepted: false,
      tls: { cert: await impostor("self"), key: control.keyPem },
      ...asControl,
    },
    {
      name: "expired",
      what: "issued by our CA and recorded, expired 35 days ago",
      expectAccepted: false,
      tls: { cert: expired.pem, key: expiredKey.keyPem },
      serial: expired.serial,
      signWith: expiredKey.keys.privateKey,
    },
    {
      name: "not_yet_valid",
      what: "issued by our CA and recorded, valid from 30 days ahead",
      expectAccepted: false,
      tls: { cert: future.pem, key: futureKey.keyPem },
      serial: future.serial,
      signWith: futureKey.keys.privateKey,
    },
    {
      name: "revoked_in_crl",
      what: "revoked before the coordinator started (in the listener's CRL)",
      expectAccepted: false,
      tls: tlsOf(r),
      serial: r.serial,
      signWith: r.keys.privateKey,
    },
    {
      name: "revoked_live",
      what: "revoked while the coordinator runs (not in the CRL)",
      expectAccepted: false,
      tls: tlsOf(revokedLive),
      serial: revokedLive.serial,
      signWith: revokedLive.keys.privateKey,
    },
    {
      name: "wrong_eku",
      what: "signed by our CA key and recorded, serverAuth EKU only (mis-issued)",
      expectAccepted: false,
      tls: { cert: wrongEku, key: ekuKey.keyPem },
      serial: wrongEkuSerial,
      signWith: ekuKey.keys.privateKey,
    },
    {
      name: "certificate_without_key",
      what: "claims the control's certificate without its key (an enrolled attacker signs the nonce)",
      expectAccepted: false,
      tls: tlsOf(attacker),
      serial: control.serial,
      signWith: attacker.keys.privateKey,
    },
  ];
}

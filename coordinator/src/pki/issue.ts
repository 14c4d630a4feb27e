// Certificate and CRL builders for the coordinator CA (pure: keys and times come in, X.509 comes out).
import { isIP } from "node:net";
import { ECDSA_SHA256, x509 } from "@gogrid/protocol/identity";
import { PkiError } from "./errors.ts";

type X509Certificate = InstanceType<typeof x509.X509Certificate>;
type PublicKeyInput = CryptoKey | InstanceType<typeof x509.PublicKey>;

const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_VALIDITY_DAYS = 3650;
export const SERVER_VALIDITY_DAYS = 730;
export const CLIENT_VALIDITY_DAYS = 365;
/** notBefore is set this far before "now", so a peer whose clock is slightly behind still accepts. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

/** The CA key and certificate, as the builders below need them. */
export interface CaMaterial {
  readonly cert: X509Certificate;
  readonly privateKey: CryptoKey;
}

/** A random positive 16-byte serial as 32 hex digits (top bit clear, never a leading zero byte). */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString("hex");
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

/** One SAN entry per server name: IP addresses as iPAddress, everything else as dNSName. */
export function serverNameSans(serverNames: readonly string[]): { type: "ip" | "dns"; value: string }[] {
  if (serverNames.length === 0) throw new PkiError("invalid_option", "serverNames must name at least one DNS name or IP address");
  return serverNames.map((name) => {
    const value = name.trim();
    if (isIP(value) !== 0) return { type: "ip", value };
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(value)) {
      throw new PkiError("invalid_option", `serverNames: "${name}" is neither an IP address nor a DNS name`);
    }
    return { type: "dns", value: value.toLowerCase() };
  });
}

/** A canonical, order-free key for a SAN list, so a cert's SANs compare equal to the configured names. */
export function sanKey(names: readonly { type: string; value: string }[]): string {
  const canonical = new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: n.type as "ip" | "dns", value: n.value })));
  const parsed = new x509.SubjectAlternativeNameExtension(canonical.rawData).names.toJSON();
  return [...new Set(parsed.map((n) => `${n.type}:${n.value.toLowerCase()}`))].sort().join(",");
}

/** The SANs of a certificate as sanKey() writes them ("" when it has none). */
export function certificateSanKey(cert: X509Certificate): string {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return ext ? sanKey(ext.names.toJSON()) : "";
}

async function keyIdExtensions(subjectKey: PublicKeyInput, issuer: X509Certificate | null): Promise<InstanceType<typeof x509.Extension>[]> {
  const ski = await x509.SubjectKeyIdentifierExtension.create(subjectKey);
  if (!issuer) return [ski];
  const issuerSki = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = issuerSki
    ? new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId)
    : await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey);
  return [ski, aki];
}

/** A self-signed CA certificate: CA:true (critical), keyCertSign|cRLSign (critical), 10 years. */
export async function createCaCertificate(keys: CryptoKeyPair, name: string, now: Date): Promise<X509Certificate> {
  return await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [name] }, { O: ["GoGrid"] }],
    ...validity(now, CA_VALIDITY_DAYS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ...(await keyIdExtensions(keys.publicKey, null)),
    ],
  });
}

/** The coordinator's TLS server certificate: serverAuth only, SANs from serverNames, 2 years. */
export async function createServerCertificate(
  ca: CaMaterial,
  publicKey: CryptoKey,
  serverNames: readonly string[],
  now: Date,
): Promise<X509Certificate> {
  const sans = serverNameSans(serverNames);
  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [sans[0]?.value ?? "gogrid-coordinator"] }, { O: ["GoGrid"] }],
    issuer: ca.cert.subjectName,
    ...validity(now, SERVER_VALIDITY_DAYS),
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(sans, false),
      ...(await keyIdExtensions(publicKey, ca.cert)),
    ],
  });
}

/** Node ids become the client certificate's CN: 1-64 characters of [A-Za-z0-9._:-], starting alphanumeric. */
export function assertNodeId(nodeId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(nodeId)) {
    throw new PkiError("invalid_node_id", `node id "${nodeId.slice(0, 80)}" must be 1-64 characters of A-Z a-z 0-9 . _ : - (e.g. a UUID)`);
  }
}

/** A worker's client certificate: CN=nodeId, clientAuth only, digitalSignature (critical), CA:false, 1 year. */
export async function createClientCertificate(
  ca: CaMaterial,
  publicKey: InstanceType<typeof x509.PublicKey>,
  nodeId: string,
  now: Date,
): Promise<X509Certificate> {
  assertNodeId(nodeId);
  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [nodeId] }],
    issuer: ca.cert.subjectName,
    ...validity(now, CLIENT_VALIDITY_DAYS),
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      ...(await keyIdExtensions(publicKey, ca.cert)),
    ],
  });
}

/** One revoked certificate: its serial (hex) and when it was revoked (Date or epoch milliseconds). */
export interface RevokedCertificate {
  readonly serial: string;
  readonly revokedAt: Date | number;
}

/**
 * A PEM CRL ("X509 CRL", the label OpenSSL and BoringSSL read) signed by the CA. nextUpdate
 * defaults to the CA's notAfter: OpenSSL/BoringSSL refuse every peer once a loaded CRL's
 * nextUpdate has passed, and Bun cannot swap the CRL of a running server, so a short one would
 * lock every worker out. (RFC 5280 wants the field; @peculiar/x509 also loses the entries of a
 * CRL without it when parsing.) Each entry carries reasonCode privilegeWithdrawn, because
 * @peculiar/x509 otherwise writes an empty crlEntryExtensions, which is invalid DER.
 */
export async function createCrlPem(ca: CaMaterial, revoked: readonly RevokedCertificate[], now: Date, nextUpdate?: Date): Promise<string> {
  const entries = revoked.map((r) => {
    if (!/^[0-9a-fA-F]{1,40}$/.test(r.serial)) throw new PkiError("invalid_option", `revoked serial "${r.serial}" is not hex`);
    const revocationDate = new Date(r.revokedAt);
    if (Number.isNaN(revocationDate.getTime())) throw new PkiError("invalid_option", `revoked serial ${r.serial} has no valid revokedAt`);
    return { serialNumber: r.serial.toLowerCase(), revocationDate, reason: x509.X509CrlReason.privilegeWithdrawn };
  });
  const aki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: new Date(now.getTime() - CLOCK_SKEW_MS),
    nextUpdate: nextUpdate ?? ca.cert.notAfter,
    signingKey: ca.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    entries,
    extensions: aki ? [new x509.AuthorityKeyIdentifierExtension(aki.keyId)] : [],
  });
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

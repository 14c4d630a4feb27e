// Checks a worker's client certificate against the CA, and its proof of possession of the key.
import { authChallengePayload } from "@gogrid/protocol";
import { ECDSA_SHA256, P256_KEY, x509 } from "@gogrid/protocol/identity";

type X509Certificate = InstanceType<typeof x509.X509Certificate>;

export type ClientCertificateProblem = "expired" | "not_yet_valid" | "wrong_issuer" | "bad_signature" | "not_client_auth" | "malformed";

export type ClientCertificateCheck =
  | { readonly ok: true; readonly nodeId: string; readonly serial: string; readonly notAfter: Date }
  | { readonly ok: false; readonly reason: ClientCertificateProblem };

function parse(pem: string): X509Certificate | null {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return null;
  }
}

/**
 * Whether `certPem` is a client certificate this CA issued and that is valid at `now`: issuer
 * name and key identifier match the CA, the CA's signature verifies, the validity window holds,
 * and it is a leaf with the clientAuth EKU. Revocation is the caller's check (its certificate rows).
 */
export async function verifyClientCertificate(certPem: string, caCertPem: string, now: Date = new Date()): Promise<ClientCertificateCheck> {
  const ca = parse(caCertPem);
  if (!ca) throw new TypeError("verifyClientCertificate: caCertPem is not a PEM certificate");
  const cert = parse(certPem);
  const nodeId = cert?.subjectName.getField("CN")[0];
  if (!cert || !nodeId) return { ok: false, reason: "malformed" };

  const caKeyId = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const authorityKeyId = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  if (cert.issuer !== ca.subject || (caKeyId && authorityKeyId && caKeyId !== authorityKeyId)) return { ok: false, reason: "wrong_issuer" };

  let signed = false;
  try {
    signed = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    signed = false;
  }
  if (!signed) return { ok: false, reason: "bad_signature" };

  if (now.getTime() < cert.notBefore.getTime()) return { ok: false, reason: "not_yet_valid" };
  if (now.getTime() > cert.notAfter.getTime()) return { ok: false, reason: "expired" };

  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const isCa = cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  const canSign = !keyUsage || (keyUsage.usages & x509.KeyUsageFlags.digitalSignature) !== 0;
  if (!eku?.usages.includes(x509.ExtendedKeyUsage.clientAuth) || isCa || !canSign) return { ok: false, reason: "not_client_auth" };

  return { ok: true, nodeId, serial: cert.serialNumber.toLowerCase(), notAfter: cert.notAfter };
}

/** A DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) as 64-byte r||s, or null if malformed. */
export function derToP1363(der: Uint8Array, size = 32): Uint8Array<ArrayBuffer> | null {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const out = new Uint8Array(size * 2);
  let offset = 2;
  for (const half of [0, 1]) {
    if (der[offset] !== 0x02) return null;
    const length = der[offset + 1] ?? 0;
    const start = offset + 2;
    if (length === 0 || length > 0x7f || start + length > der.length) return null;
    let value = der.subarray(start, start + length);
    if ((value[0] ?? 0) & 0x80) return null; // negative: not a valid r or s
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > size) return null;
    out.set(value, half * size + (size - value.length));
    offset = start + length;
  }
  return offset === der.length ? out : null;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Proof of possession after the TLS handshake: whether `signatureBase64` is an ECDSA P-256 /
 * SHA-256 signature over `payload` by the key in `certPem`. Accepts the IEEE-P1363 form WebCrypto
 * makes (64 bytes r||s) and DER. Never throws: anything malformed is simply `false`.
 */
export async function verifyChallengeSignature(certPem: string, payload: Uint8Array, signatureBase64: string): Promise<boolean> {
  if (typeof signatureBase64 !== "string" || signatureBase64.length > 200 || !BASE64.test(signatureBase64)) return false;
  const raw = new Uint8Array(Buffer.from(signatureBase64, "base64"));
  const signature = raw.length === 64 ? raw : derToP1363(raw);
  if (!signature) return false;
  try {
    const cert = parse(certPem);
    if (!cert) return false;
    const key = await cert.publicKey.export(P256_KEY, ["verify"]);
    return await crypto.subtle.verify(ECDSA_SHA256, key, signature, new Uint8Array(payload));
  } catch {
    return false;
  }
}

/** verifyChallengeSignature over the protocol's payload for `nonce` ("GOGRID-AUTH-V1\n" + nonce bytes). */
export async function verifyNonceSignature(certPem: string, nonce: string, signatureBase64: string): Promise<boolean> {
  let payload: Uint8Array;
  try {
    payload = authChallengePayload(nonce);
  } catch {
    return false;
  }
  return await verifyChallengeSignature(certPem, payload, signatureBase64);
}

// The pin a worker keeps for the coordinator: SHA-256 of the server certificate's SubjectPublicKeyInfo.
import { createHash } from "node:crypto";
import { PkiError } from "./errors.ts";
import { x509 } from "./x509.ts";

/**
 * Base64 SHA-256 of the certificate's DER SubjectPublicKeyInfo (the HPKP "pin-sha256" form).
 * Takes a PEM certificate, or the DER certificate (e.g. `PeerCertificate.raw` in node:tls).
 * The pin survives reissuing the certificate only when the key is kept; the coordinator keeps
 * the server key across reissues for that reason.
 */
export function spkiSha256(certificate: string | Uint8Array): string {
  let cert: InstanceType<typeof x509.X509Certificate>;
  try {
    cert = new x509.X509Certificate(typeof certificate === "string" ? certificate : new Uint8Array(certificate));
  } catch (error) {
    throw new PkiError("malformed_pem", `not an X.509 certificate (${(error as Error).message})`);
  }
  return spkiSha256OfKey(new Uint8Array(cert.publicKey.rawData));
}

/**
 * Base64 SHA-256 of a DER SubjectPublicKeyInfo. Not for node:tls `PeerCertificate.pubkey`: for
 * an EC key that is the bare 65-byte point, so pin a peer with `spkiSha256(peer.raw)` instead.
 */
export function spkiSha256OfKey(spki: Uint8Array): string {
  return createHash("sha256").update(spki).digest("base64");
}

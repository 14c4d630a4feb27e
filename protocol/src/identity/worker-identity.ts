// A worker's identity key: P-256 key pair, PKCS#8 PEM, CSR for enrolment, challenge signatures.
import { ECDSA_SHA256, exportPkcs8Pem, generateP256KeyPair, importPkcs8Pem } from "./keys.ts";
import { x509 } from "./x509.ts";

export { exportPkcs8Pem, importPkcs8Pem };

/** A fresh ECDSA P-256 key pair (extractable, so it can be saved with exportPkcs8Pem). */
export async function createWorkerKeyPair(): Promise<CryptoKeyPair> {
  return await generateP256KeyPair();
}

/**
 * A PEM PKCS#10 request for the key pair. The coordinator uses only its public key and
 * signature; `commonName` is informational (the issued certificate carries the node id).
 */
export async function createCsr(keys: CryptoKeyPair, commonName: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: ECDSA_SHA256,
  });
  return csr.toString("pem");
}

/** Base64 of the ECDSA P-256 / SHA-256 signature over `payload`, in IEEE-P1363 form (64 bytes r||s). */
export async function signChallenge(privateKey: CryptoKey, payload: Uint8Array): Promise<string> {
  const signature = await crypto.subtle.sign(ECDSA_SHA256, privateKey, new Uint8Array(payload));
  return Buffer.from(signature).toString("base64");
}

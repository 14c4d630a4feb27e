// Checks a worker's PKCS#10 request: PEM, ECDSA P-256 key, valid self-signature. Nothing else is used.

import { x509 } from "@gogrid/protocol/identity";
import { CsrError } from "./errors.ts";

/** Larger than any P-256 request a worker sends (about 400 bytes), small enough to parse cheaply. */
export const MAX_CSR_PEM_LENGTH = 16 * 1024;

const CSR_PEM = /^\s*-----BEGIN CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE REQUEST-----\s*$/;

/**
 * The public key of a valid CSR. The requested subject, extensions and attributes are ignored:
 * the coordinator decides every field of the certificate it issues.
 */
export async function checkCsr(csrPem: string): Promise<InstanceType<typeof x509.PublicKey>> {
  if (typeof csrPem !== "string" || csrPem.length > MAX_CSR_PEM_LENGTH) {
    throw new CsrError(`the CSR must be a PEM string of at most ${MAX_CSR_PEM_LENGTH} characters`);
  }
  if (!CSR_PEM.test(csrPem)) {
    throw new CsrError('the CSR is not PEM: expected one "-----BEGIN CERTIFICATE REQUEST-----" block');
  }
  let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  let algorithm: { name: string; namedCurve?: string };
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
    algorithm = csr.publicKey.algorithm;
  } catch (error) {
    throw new CsrError(`the CSR is not a valid PKCS#10 request (${(error as Error).message})`);
  }
  if (algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256") {
    const got = [algorithm.name, algorithm.namedCurve].filter(Boolean).join(" ");
    throw new CsrError(`the CSR's key must be ECDSA P-256, got ${got || "an unknown key type"}`);
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch (error) {
    throw new CsrError(`the CSR's signature could not be checked (${(error as Error).message})`);
  }
  if (!valid) throw new CsrError("the CSR's signature does not verify with its own public key (tampered or corrupt)");
  return csr.publicKey;
}

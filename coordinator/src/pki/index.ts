// The coordinator PKI: CA and server certificate files, worker certificates, CRLs, client checks.

export {
  createCsr,
  createWorkerKeyPair,
  exportPkcs8Pem,
  importPkcs8Pem,
  signChallenge,
  spkiSha256,
  spkiSha256OfKey,
} from "@gogrid/protocol/identity";
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  type IssuedCertificate,
  loadOrCreatePki,
  type Pki,
  type PkiChanges,
  type PkiOptions,
  type RevokedCertificate,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
} from "./ca.ts";
export { CsrError, PkiError, type PkiErrorCode } from "./errors.ts";
export {
  type ClientCertificateCheck,
  type ClientCertificateProblem,
  derToP1363,
  verifyChallengeSignature,
  verifyClientCertificate,
  verifyNonceSignature,
} from "./verify.ts";

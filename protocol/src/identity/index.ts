// Worker identity and the crypto both ends share: P-256 keys, CSRs, challenge signatures, pins.
export { PkiError, type PkiErrorCode } from "./errors.ts";
export { decodePem, ECDSA_SHA256, exportPkcs8Pem, generateP256KeyPair, importPkcs8Pem, P256_KEY, spkiDer } from "./keys.ts";
export { spkiSha256, spkiSha256OfKey } from "./pin.ts";
export { createCsr, createWorkerKeyPair, signChallenge } from "./worker-identity.ts";
export { x509 } from "./x509.ts";

// Handshake and safety messages: version hello, nonce challenge/response, mismatch and error.
import { type Static, Type } from "@sinclair/typebox";
import { LIMITS } from "../limits.ts";
import { defineMessage, ErrorCode, Identifier, ProtocolVersion, Reason, SemVer } from "./common.ts";

/** Bytes of randomness in an auth challenge nonce. */
export const NONCE_BYTES = 32;

/** The only signature algorithm accepted in `auth_response`. */
export const AUTH_ALGORITHM = "ECDSA-P256-SHA256";

/** Base64 (standard alphabet, padded) of exactly 32 bytes: 43 characters then "=". */
export const Nonce = Type.String({
  minLength: 44,
  maxLength: 44,
  pattern: "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
  description: "base64 of exactly 32 bytes (44 characters ending in =)",
});

/** Base64 of a 64-byte IEEE P1363 ECDSA P-256 signature (r‖s, as WebCrypto's sign() returns). */
export const Signature = Type.String({
  minLength: 88,
  maxLength: 88,
  pattern: "^[A-Za-z0-9+/]{85}[AQgw]==$",
  description: "base64 of a 64-byte P1363 (r||s) ECDSA P-256 signature (88 characters ending in ==)",
});

/** Certificate serial as issued by the coordinator's CA: up to 20 bytes in hex. */
export const CertSerial = Type.String({
  minLength: 1,
  maxLength: 40,
  pattern: "^[0-9a-fA-F]+$",
  description: "a certificate serial number in hex (up to 40 digits)",
});

/** PEM certificate chain, leaf first. */
export const CertChainPem = Type.String({
  minLength: 64,
  maxLength: LIMITS.MAX_PEM_CHARS,
  pattern: "^-----BEGIN CERTIFICATE-----",
  description: "a PEM certificate chain starting with -----BEGIN CERTIFICATE-----",
});

/**
 * Worker → coordinator, the first frame on a new socket. Its shape never changes between protocol
 * versions so that any coordinator can read it and answer `version_mismatch`.
 */
export const HelloMessage = defineMessage(
  "hello",
  {
    protocol_version: ProtocolVersion,
    min_protocol_version: ProtocolVersion,
    max_protocol_version: ProtocolVersion,
    worker_version: SemVer,
  },
  "First frame from a worker: the protocol versions it speaks and its release.",
);
export type HelloMessage = Static<typeof HelloMessage>;

/** Coordinator → worker: prove you hold the key of your client certificate by signing this nonce. */
export const AuthChallengeMessage = defineMessage(
  "auth_challenge",
  {
    nonce: Nonce,
    /** The version negotiated from the hello; both sides speak it from now on. */
    protocol_version: ProtocolVersion,
  },
  "Nonce for the worker to sign; carries the negotiated protocol version.",
);
export type AuthChallengeMessage = Static<typeof AuthChallengeMessage>;

/**
 * Worker → coordinator: signature over `authChallengePayload(nonce)` with the certificate's key.
 * Names the certificate by serial, or sends the chain; at least one of the two is required.
 */
export const AuthResponseMessage = defineMessage(
  "auth_response",
  {
    cert_serial: Type.Optional(CertSerial),
    cert_chain_pem: Type.Optional(CertChainPem),
    signature: Signature,
    algorithm: Type.Literal(AUTH_ALGORITHM),
  },
  "Signed nonce proving possession of the enrolled client certificate's key.",
);
export type AuthResponseMessage = Static<typeof AuthResponseMessage>;

/**
 * Coordinator → worker: no common protocol version. Always fatal; the socket closes after it.
 * Like `hello`, its shape is the same in every protocol version.
 */
export const VersionMismatchMessage = defineMessage(
  "version_mismatch",
  {
    code: Type.Literal("unsupported_version"),
    message: Reason,
    fatal: Type.Literal(true),
    min_protocol_version: ProtocolVersion,
    max_protocol_version: ProtocolVersion,
  },
  "No protocol version in common; carries the range the coordinator speaks.",
);
export type VersionMismatchMessage = Static<typeof VersionMismatchMessage>;

/**
 * Either direction: a refused frame or a failed step (auth, registration). `fatal: true` means the
 * sender closes the socket next. Codes include every ProtocolErrorCode plus e.g. "auth_failed".
 */
export const ErrorMessage = defineMessage(
  "error",
  {
    code: ErrorCode,
    message: Reason,
    fatal: Type.Boolean(),
    /** `id` of the message that caused this error, when it had one. */
    in_reply_to: Type.Optional(Identifier),
    /** JSON pointer of the offending field, when one is to blame. */
    path: Type.Optional(Type.String({ maxLength: 256 })),
  },
  "A refused message or failed step; fatal errors are followed by a close.",
);
export type ErrorMessage = Static<typeof ErrorMessage>;

/** PEM certificate signing request (PKCS#10). */
export const CsrPem = Type.String({
  minLength: 64,
  maxLength: 16 * 1024,
  pattern: "^-----BEGIN CERTIFICATE REQUEST-----",
  description: "a PEM certificate request starting with -----BEGIN CERTIFICATE REQUEST-----",
});

/**
 * Worker → coordinator, once registered: a CSR for a new key, to replace a certificate that
 * expires soon. The session is already authenticated by the current certificate.
 */
export const CertRenewMessage = defineMessage(
  "cert_renew",
  { csr: CsrPem },
  "Asks for a new client certificate before the current one expires.",
);
export type CertRenewMessage = Static<typeof CertRenewMessage>;

/** Coordinator → worker: the new certificate (same node id); the worker uses it from its next connection. */
export const CertRenewedMessage = defineMessage(
  "cert_renewed",
  {
    certificate: CertChainPem,
    cert_serial: CertSerial,
    /** Expiry, ms since the epoch. */
    not_after: Type.Integer({ minimum: 0 }),
  },
  "The renewed client certificate.",
);
export type CertRenewedMessage = Static<typeof CertRenewedMessage>;

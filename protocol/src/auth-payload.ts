// The auth challenge: making nonces, and the exact bytes a worker signs in answer.
import { ProtocolError } from "./errors.ts";
import { NONCE_BYTES, Nonce } from "./messages/handshake.ts";

/** Domain-separation prefix, so a signature over a nonce can never pass as any other signature. */
export const AUTH_CONTEXT = "GOGRID-AUTH-V1\n";

const NONCE_PATTERN = new RegExp(Nonce.pattern ?? "");

/** A fresh random nonce for `auth_challenge` (base64 of 32 bytes from the system CSPRNG). */
export function newNonce(): string {
  const bytes = new Uint8Array(NONCE_BYTES);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64");
}

/**
 * The bytes to sign (worker) and verify (coordinator) with ECDSA P-256 / SHA-256:
 * ASCII AUTH_CONTEXT followed by the 32 decoded nonce bytes. Throws on a malformed nonce.
 */
export function authChallengePayload(nonce: string): Uint8Array<ArrayBuffer> {
  if (!NONCE_PATTERN.test(nonce)) {
    throw new ProtocolError("invalid_message", "nonce must be base64 of exactly 32 bytes (44 characters ending in =)", { path: "/nonce" });
  }
  const context = new TextEncoder().encode(AUTH_CONTEXT);
  const payload = new Uint8Array(context.length + NONCE_BYTES);
  payload.set(context, 0);
  payload.set(Buffer.from(nonce, "base64"), context.length);
  return payload;
}

// Builders for the replies a receiver sends when it refuses something: error and version_mismatch.
import type { ProtocolError } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import type { ErrorMessage, VersionMismatchMessage } from "./messages/handshake.ts";
import { MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION } from "./version.ts";

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The `error` frame to send back for a refused frame (`fatal` for oversize / version errors). */
export function errorMessageFor(error: ProtocolError, now: number = Date.now()): ErrorMessage {
  const reply: ErrorMessage = {
    type: "error",
    ts: now,
    code: error.code,
    message: clip(error.message, LIMITS.MAX_REASON_CHARS),
    fatal: error.fatal,
  };
  if (error.messageId !== undefined) reply.in_reply_to = error.messageId;
  if (error.path !== undefined) reply.path = clip(error.path, 256);
  return reply;
}

/** The `version_mismatch` frame for a failed negotiation, naming the range this side speaks. */
export function versionMismatchFor(
  error: ProtocolError,
  min: number = MIN_PROTOCOL_VERSION,
  max: number = MAX_PROTOCOL_VERSION,
  now: number = Date.now(),
): VersionMismatchMessage {
  return {
    type: "version_mismatch",
    ts: now,
    code: "unsupported_version",
    message: clip(error.message, LIMITS.MAX_REASON_CHARS),
    fatal: true,
    min_protocol_version: min,
    max_protocol_version: max,
  };
}

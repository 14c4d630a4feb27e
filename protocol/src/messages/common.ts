// Shared wire building blocks: identifiers, hashes, URLs, versions, and the message envelope.
import { type TInteger, type TLiteral, type TObject, type TOptional, type TProperties, type TString, Type } from "@sinclair/typebox";
import { LIMITS } from "../limits.ts";

/** Opaque identifier (node, client, job, message): letters, digits and `._:-`, 1–128 chars. */
export const Identifier = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: "^[A-Za-z0-9._:-]+$",
  description: "an identifier of 1–128 letters, digits or ._:-",
});

/** Fencing token of one job attempt; results carrying an older fence are refused. */
export const Fence = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: "^[A-Za-z0-9._:-]+$",
  description: "a fencing token of 1–128 letters, digits or ._:-",
});

/** Model id as published by the operator, e.g. "stories260K" or "meta/llama-3.2-1b:q4_k_m". */
export const ModelId = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: "^[A-Za-z0-9._:/@+-]+$",
  description: "a model id of 1–200 letters, digits or ._:/@+-",
});

/** SHA-256 digest, 64 lowercase hex characters. */
export const Sha256 = Type.String({
  minLength: 64,
  maxLength: 64,
  pattern: "^[0-9a-f]{64}$",
  description: "a SHA-256 digest in 64 lowercase hex characters",
});

/** http(s) URL. Integrity comes from the sha256 / signed manifest, not from the scheme. */
export const HttpUrl = Type.String({
  minLength: 8,
  maxLength: LIMITS.MAX_URL_CHARS,
  pattern: "^https?://[^\\s]+$",
  description: "an http:// or https:// URL without spaces",
});

/** Semantic version, e.g. "1.2.3", "0.4.0-beta.1+abc123". */
export const SemVer = Type.String({
  minLength: 5,
  maxLength: 64,
  pattern: "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$",
  description: "a semantic version like 1.2.3 or 1.2.3-beta.1",
});

/** Protocol version number. Any positive integer is well-formed; negotiation decides support. */
export const ProtocolVersion = Type.Integer({ minimum: 1, maximum: 65_535 });

/** Milliseconds since the Unix epoch. */
export const UnixMillis = Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 });

/** Non-negative counter that fits a JavaScript number exactly. */
export const Counter = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** Percentage of the whole machine (all cores / all GPUs), 0–100. */
export const Percent = Type.Number({ minimum: 0, maximum: 100 });

/** Duration in milliseconds; fractions allowed (performance.now()). */
export const Millis = Type.Number({ minimum: 0, maximum: 8_640_000_000 });

/** Machine-readable error code in snake_case, e.g. "out_of_memory". */
export const ErrorCode = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: "^[a-z][a-z0-9_]*$",
  description: "a snake_case error code",
});

/** Short human-readable text: reasons, error messages. */
export const Reason = Type.String({ maxLength: LIMITS.MAX_REASON_CHARS });

/** A failure as carried inside a message: stable code plus actionable text. */
export const ErrorDetail = Type.Object({ code: ErrorCode, message: Reason }, { additionalProperties: false });

type Envelope<T extends string> = {
  type: TLiteral<T>;
  /** Sender-chosen message id, echoed as `in_reply_to` by `error`. */
  id: TOptional<TString>;
  /** Sender's clock when the message was made, ms since the epoch. */
  ts: TOptional<TInteger>;
};

/**
 * One wire message: `type` discriminator, optional `id`/`ts`, then its own fields. Unknown fields
 * are refused; adding a field means a new protocol version.
 */
export function defineMessage<T extends string, P extends TProperties>(
  type: T,
  properties: P,
  description: string,
): TObject<Envelope<T> & P> {
  const envelope: Envelope<T> = {
    type: Type.Literal(type),
    id: Type.Optional(Identifier),
    ts: Type.Optional(UnixMillis),
  };
  return Type.Object({ ...envelope, ...properties }, { additionalProperties: false, title: type, description });
}

// Protocol errors: a stable code, an actionable message, and the offending field when known.

/** Every way a frame can be refused, on either side of the socket. */
export type ProtocolErrorCode =
  | "frame_too_large"
  | "invalid_json"
  | "not_an_object"
  | "unknown_type"
  | "invalid_message"
  | "unsupported_version";

export const PROTOCOL_ERROR_CODES: readonly ProtocolErrorCode[] = [
  "frame_too_large",
  "invalid_json",
  "not_an_object",
  "unknown_type",
  "invalid_message",
  "unsupported_version",
];

export interface ProtocolErrorDetails {
  /** JSON pointer of the offending field, e.g. "/params/temperature" ("" for the whole frame). */
  readonly path?: string;
  /** The frame's `type` when it could be read. */
  readonly messageType?: string;
  /** The frame's `id` when it could be read, so a reply can name it in `in_reply_to`. */
  readonly messageId?: string;
}

export class ProtocolError extends Error {
  readonly path: string | undefined;
  readonly messageType: string | undefined;
  readonly messageId: string | undefined;

  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    details: ProtocolErrorDetails = {},
  ) {
    super(message);
    this.name = "ProtocolError";
    this.path = details.path;
    this.messageType = details.messageType;
    this.messageId = details.messageId;
  }

  /**
   * Whether the receiver should close the socket after reporting this error: an oversize frame
   * or an unusable protocol version cannot be recovered from on the same connection.
   */
  get fatal(): boolean {
    return this.code === "frame_too_large" || this.code === "unsupported_version";
  }
}

/** What every decoder returns: never throws, always says why a frame was refused. */
export type DecodeResult<M> = { readonly ok: true; readonly message: M } | { readonly ok: false; readonly error: ProtocolError };

// Named errors of the model cache and downloader: each has a stable `code` and says what to do.

export type ModelErrorCode =
  | "cache_full"
  | "model_checksum_mismatch"
  | "model_too_large"
  | "download_failed"
  | "download_interrupted"
  | "download_aborted"
  | "invalid_model_ref";

/** Base class: every error this folder throws on purpose is one of these. */
export class ModelError extends Error {
  override readonly name: string = "ModelError";
  readonly code: ModelErrorCode;
  /** Whether trying again later may succeed (a cut, a 5xx, a refused connection). */
  readonly retryable: boolean;

  constructor(code: ModelErrorCode, message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.retryable = retryable;
  }
}

/** The new model does not fit under the cache's size limit, even after evicting what may be evicted. */
export class CacheFullError extends ModelError {
  override readonly name = "CacheFullError";
  /** Bytes the cache would hold with the new file (pinned models + the new one). */
  readonly neededBytes: number;
  /** The cache's size limit. */
  readonly allowedBytes: number;
  /** Bytes held by models that may not be evicted (in use). */
  readonly pinnedBytes: number;

  constructor(bytesNeeded: number, allowedBytes: number, pinnedBytes: number) {
    const needed = bytesNeeded + pinnedBytes;
    const why =
      bytesNeeded > allowedBytes
        ? `the model alone is ${fmtBytes(bytesNeeded)}`
        : `the model (${fmtBytes(bytesNeeded)}) plus models in use (${fmtBytes(pinnedBytes)}) need ${fmtBytes(needed)}`;
    super(
      "cache_full",
      `model cache full: ${why} but the cache allows ${fmtBytes(allowedBytes)}. ` +
        "Raise the model cache size limit or free models in use.",
      false,
    );
    this.neededBytes = needed;
    this.allowedBytes = allowedBytes;
    this.pinnedBytes = pinnedBytes;
  }
}

/** The downloaded bytes do not hash to the sha256 the registry published; the file was discarded. */
export class ModelChecksumError extends ModelError {
  override readonly name = "ModelChecksumError";
  readonly expected: string;
  readonly actual: string;
  readonly bytes: number;

  constructor(source: string, expected: string, actual: string, bytes: number) {
    super(
      "model_checksum_mismatch",
      `model from ${redactSource(source)} refused: sha256 is ${actual} (${bytes} bytes) but the registry expects ${expected}. ` +
        "The file was discarded; check the model registry entry or the source file.",
      false,
    );
    this.expected = expected;
    this.actual = actual;
    this.bytes = bytes;
  }
}

/** The source sent (or announced) more bytes than the registry's size; the transfer was stopped and discarded. */
export class ModelTooLargeError extends ModelError {
  override readonly name = "ModelTooLargeError";
  readonly limitBytes: number;
  readonly receivedBytes: number;

  constructor(source: string, limitBytes: number, receivedBytes: number) {
    super(
      "model_too_large",
      `model from ${redactSource(source)} refused: it is larger than the ${limitBytes} bytes the registry announced ` +
        `(${receivedBytes} seen). The partial file was discarded; check the model registry entry.`,
      false,
    );
    this.limitBytes = limitBytes;
    this.receivedBytes = receivedBytes;
  }
}

export type DownloadErrorCode = "download_failed" | "download_interrupted" | "download_aborted";

/** The transfer failed: an HTTP error status, no connection, a cut mid-stream, or the caller aborted. */
export class ModelDownloadError extends ModelError {
  override readonly name = "ModelDownloadError";
  /** The source, without credentials or query string. */
  readonly url: string;
  /** HTTP status when the server answered with an error; undefined for network failures. */
  readonly status: number | undefined;

  constructor(code: DownloadErrorCode, url: string, detail: string, opts: { status?: number; retryable: boolean; cause?: unknown }) {
    const shown = redactSource(url);
    super(code, `model download from ${shown} ${detail}`, opts.retryable, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.url = shown;
    this.status = opts.status;
  }
}

/** A sha256 or source the cache cannot use (not 64 lowercase hex, unsupported URL scheme). */
export class InvalidModelRefError extends ModelError {
  override readonly name = "InvalidModelRefError";
  constructor(detail: string) {
    super("invalid_model_ref", `invalid model reference: ${detail}`, false);
  }
}

/** A source for messages and logs: an http(s) URL loses its credentials and query (signed URLs carry tokens). */
export function redactSource(source: string): string {
  if (!/^https?:\/\//i.test(source)) return source;
  try {
    const u = new URL(source);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(unparsable URL)";
  }
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]} (${n} bytes)`;
}

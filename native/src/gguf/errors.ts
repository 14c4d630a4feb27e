// Named errors of the GGUF reader and writer: each has a stable `code` and names the file.

export type GgufErrorCode =
  | "model_not_found"
  | "model_unreadable"
  | "model_not_gguf"
  | "model_unsupported_version"
  | "model_truncated"
  | "model_corrupt"
  | "model_spec_invalid";

/** The part of a GGUF file being read when a problem was found. */
export type GgufSection = "header" | "metadata" | "tensor infos" | "tensor data";

/** Base class: every error the reader throws is one of these. */
export class GgufError extends Error {
  override readonly name: string = "GgufError";
  readonly code: GgufErrorCode;
  readonly path: string;

  constructor(code: GgufErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.path = path;
  }
}

/** No file at the path (or the path is a directory). */
export class GgufNotFoundError extends GgufError {
  override readonly name = "GgufNotFoundError";
  constructor(path: string, detail = "model file not found") {
    super("model_not_found", path, `${path}: ${detail}. Check the model path.`);
  }
}

/** The file exists but cannot be read (permissions, I/O error). */
export class GgufUnreadableError extends GgufError {
  override readonly name = "GgufUnreadableError";
  constructor(path: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super("model_unreadable", path, `${path}: cannot read the model file (${why}). Check its permissions.`, {
      cause,
    });
  }
}

/** Wrong magic: the file is something else (HTML page, safetensors, text, ...). */
export class GgufNotAGgufError extends GgufError {
  override readonly name = "GgufNotAGgufError";
  /** What the first bytes look like, e.g. "an HTML page". */
  readonly looksLike: string;
  constructor(path: string, looksLike: string, hint: string, firstBytes: string) {
    const head = firstBytes ? ` (first bytes: ${firstBytes})` : "";
    super("model_not_gguf", path, `${path}: not a GGUF model: this looks like ${looksLike}${head}. ${hint}`);
    this.looksLike = looksLike;
  }
}

/** A GGUF version this reader (and llama.cpp) does not load. */
export class GgufUnsupportedVersionError extends GgufError {
  override readonly name = "GgufUnsupportedVersionError";
  readonly version: number;
  constructor(path: string, version: number, detail: string) {
    super("model_unsupported_version", path, `${path}: unsupported GGUF version ${version}: ${detail}`);
    this.version = version;
  }
}

/** The file ends before its header, metadata, tensor infos or tensor data do. */
export class GgufTruncatedError extends GgufError {
  override readonly name = "GgufTruncatedError";
  readonly section: GgufSection;
  readonly expectedBytes: number;
  readonly actualBytes: number;
  constructor(path: string, section: GgufSection, expectedBytes: number, actualBytes: number) {
    const missing = expectedBytes - actualBytes;
    super(
      "model_truncated",
      path,
      `${path}: the file is truncated in its ${section}: reading it needs at least ${expectedBytes} ` +
        `bytes but the file has ${actualBytes} (${missing} missing). The download or copy was probably ` +
        "interrupted; fetch the model again.",
    );
    this.section = section;
    this.expectedBytes = expectedBytes;
    this.actualBytes = actualBytes;
  }
}

/** Values no valid GGUF file contains (absurd lengths, unknown types, overlapping tensors...). */
export class GgufCorruptError extends GgufError {
  override readonly name = "GgufCorruptError";
  readonly section: GgufSection;
  /** Byte offset in the file where the bad value was read, when known. */
  readonly offset: number | undefined;
  constructor(path: string, section: GgufSection, detail: string, offset?: number, options?: ErrorOptions) {
    const at = offset === undefined ? "" : ` at byte ${offset}`;
    super(
      "model_corrupt",
      path,
      `${path}: corrupt GGUF ${section}${at}: ${detail}. The file is damaged or was not written ` +
        "by a GGUF writer; fetch or convert the model again.",
      options,
    );
    this.section = section;
    this.offset = offset;
  }
}

/** The writer was given a model spec it cannot turn into a valid file. */
export class GgufSpecError extends GgufError {
  override readonly name = "GgufSpecError";
  constructor(path: string, detail: string) {
    super("model_spec_invalid", path, `${path}: cannot write this model: ${detail}.`);
  }
}

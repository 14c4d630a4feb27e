// Named errors of the resource monitor: each carries a stable `code` and says what to fix.

export type ResourceErrorCode =
  | "invalid_resource_mode"
  | "invalid_override"
  | "unknown_override"
  | "invalid_throttle_option"
  | "invalid_pause_source"
  | "invalid_pause_duration";

/** Base class: every error thrown under worker/src/resources is one of these. */
export class ResourceError extends Error {
  override readonly name: string = "ResourceError";
  readonly code: ResourceErrorCode;

  constructor(code: ResourceErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A resource mode, threshold override or throttle option is wrong; `key` names the offending setting. */
export class ResourceConfigError extends ResourceError {
  override readonly name = "ResourceConfigError";
  readonly key: string;

  constructor(
    code: "invalid_resource_mode" | "invalid_override" | "unknown_override" | "invalid_throttle_option",
    key: string,
    message: string,
  ) {
    super(code, message);
    this.key = key;
  }
}

/** A pause request is wrong (unknown source, bad duration). */
export class PauseError extends ResourceError {
  override readonly name = "PauseError";

  constructor(code: "invalid_pause_source" | "invalid_pause_duration", message: string) {
    super(code, message);
  }
}

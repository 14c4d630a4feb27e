// Key and certificate errors: a stable code and a message an operator or a worker developer can act on.

export type PkiErrorCode = "invalid_option" | "invalid_node_id" | "pki_incomplete" | "key_mismatch" | "ca_expired" | "malformed_pem";

export class PkiError extends Error {
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PkiError";
  }
}

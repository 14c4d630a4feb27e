// PKI errors: a stable code and a message an operator or a worker developer can act on.

export { PkiError, type PkiErrorCode } from "@gogrid/protocol/identity";

/** A certificate signing request the coordinator refuses; the message says what is wrong with it. */
export class CsrError extends Error {
  readonly code = "invalid_csr" as const;

  constructor(message: string) {
    super(message);
    this.name = "CsrError";
  }
}

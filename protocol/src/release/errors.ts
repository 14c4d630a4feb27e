// Why an update was refused: one code per attack or fault, with a message a person can act on.

export type UpdateRefusalCode =
  | "bad_document"
  | "bad_signature"
  | "unknown_key"
  | "revoked_key"
  | "expired"
  | "keyset_rollback"
  | "version_rollback"
  | "wrong_channel"
  | "wrong_platform"
  | "too_large"
  | "size_mismatch"
  | "hash_mismatch"
  | "bad_delta"
  | "download_failed"
  | "not_installable";

export class UpdateRefused extends Error {
  override readonly name = "UpdateRefused";
  constructor(
    readonly code: UpdateRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

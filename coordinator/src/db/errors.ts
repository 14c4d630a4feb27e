// Named storage errors: a stable code and a message naming the database (password redacted).

export type DatabaseErrorCode = "db_url_invalid" | "db_unreachable" | "db_migration_failed" | "db_commit_failed";

export class DatabaseError extends Error {
  override readonly name = "DatabaseError";
  constructor(
    readonly code: DatabaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of any thrown value, for wrapping into a DatabaseError. */
export function describeCause(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(describeCause).join("; ");
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

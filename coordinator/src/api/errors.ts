// OpenAI-shaped error bodies and the HTTP errors of the client API.

export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: OpenAiErrorType,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  body(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  response(): Response {
    return Response.json(this.body(), { status: this.status, headers: this.headers });
  }
}

export const badRequest = (message: string, param: string | null = null, code = "invalid_request") =>
  new ApiError(400, "invalid_request_error", code, message, param);

export const unauthorized = (message: string) => new ApiError(401, "authentication_error", "invalid_api_key", message);

export const notFound = (message: string, code = "not_found", param: string | null = null) =>
  new ApiError(404, "not_found_error", code, message, param);

export const unavailable = (message: string, code: string, retryAfterSecs: number) =>
  new ApiError(503, "server_error", code, message, null, { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSecs))) });

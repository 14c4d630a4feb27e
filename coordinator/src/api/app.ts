// The API port's Elysia app: client API routes plus OpenAI-shaped errors for everything.
import { Elysia } from "elysia";
import { ApiError, badRequest, notFound } from "./errors.ts";

export type ApiLog = (level: "warn" | "error", message: string) => void;

/** Errors of every route, as OpenAI-shaped JSON; unexpected ones are logged, never leaked. */
export function errorHandling(log: ApiLog) {
  return new Elysia({ name: "errors" }).onError({ as: "global" }, ({ code, error, request }) => {
    if (error instanceof ApiError) return error.response();
    if (code === "PARSE") return badRequest("the request body is not valid JSON", null, "invalid_json").response();
    if (code === "NOT_FOUND") return notFound(`no route for ${request.method} ${new URL(request.url).pathname}`, "unknown_url").response();
    if (code === "VALIDATION") return badRequest(String((error as Error).message).slice(0, 300)).response();
    log("error", `${request.method} ${new URL(request.url).pathname}: ${(error as Error)?.stack ?? String(error)}`);
    return new ApiError(500, "server_error", "internal_error", "the server hit an unexpected error; it has been logged").response();
  });
}

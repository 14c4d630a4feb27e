// httpMetrics: counts every API response per matched route and status, errors included.
import { Elysia, StatusMap } from "elysia";
import type { CoordinatorMetrics } from "./service.ts";

function numericStatus(status: unknown): number | null {
  if (typeof status === "number") return status;
  if (typeof status === "string") return (StatusMap as Record<string, number>)[status] ?? null;
  return null;
}

/** The status an error answers with: its own `status` (ApiError, Elysia's errors), else 500. */
function errorStatus(error: unknown): number {
  const own = typeof error === "object" && error !== null && "status" in error ? numericStatus(error.status) : null;
  return own !== null && own >= 100 && own <= 599 ? own : 500;
}

/**
 * Elysia plugin: `.use()` it before the routes it should count (Elysia attaches hooks to routes
 * registered after them). An error handler that returns a Response hides that Response's status
 * from later hooks, so errors are recorded with the error's own status, noted in onError.
 */
export function httpMetrics(metrics: CoordinatorMetrics) {
  const errorStatuses = new WeakMap<Request, number>();
  return new Elysia()
    .onError({ as: "global" }, ({ error, request }) => {
      errorStatuses.set(request, errorStatus(error));
    })
    .onAfterResponse({ as: "global" }, (ctx) => {
      const { request, responseValue, route, set } = ctx;
      let status = errorStatuses.get(request);
      errorStatuses.delete(request);
      if (status === undefined && responseValue instanceof Response) status = responseValue.status;
      // an error whose onError hook did not run here (another handler answered first)
      if (status === undefined && "error" in ctx && typeof ctx.error === "object" && ctx.error !== null) status = errorStatus(ctx.error);
      metrics.http(route, status ?? numericStatus(set.status) ?? 200);
    });
}

// Metrics feature: GET /metrics (Prometheus text, optional bearer token) and the exports of the folder.
import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { bearerToken } from "../api/auth.ts";
import { ApiError } from "../api/errors.ts";
import type { CoordinatorMetrics } from "./service.ts";

export { httpMetrics } from "./http-hooks.ts";
export * from "./model.ts";
export { CoordinatorMetrics, type MetricsOptions } from "./service.ts";

export interface MetricsRoutesOptions {
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string;
  /** Default `/metrics`. */
  path?: string;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function tokenMatches(header: string | null, expected: Buffer): boolean {
  const token = bearerToken(header);
  // compare digests: constant time, whatever the lengths
  return token !== null && timingSafeEqual(digest(token), expected);
}

export function metricsRoutes(metrics: CoordinatorMetrics, options: MetricsRoutesOptions = {}) {
  const expected = options.token ? digest(options.token) : null;
  return new Elysia().get(options.path ?? "/metrics", async ({ request }) => {
    if (expected && !tokenMatches(request.headers.get("authorization"), expected)) {
      return new ApiError(
        401,
        "authentication_error",
        "invalid_metrics_token",
        "this endpoint needs `Authorization: Bearer <token>` with the metrics token set in the coordinator's config",
        null,
        { "WWW-Authenticate": 'Bearer realm="metrics"' },
      ).response();
    }
    return new Response(await metrics.metricsText(), { headers: { "Content-Type": metrics.contentType } });
  });
}

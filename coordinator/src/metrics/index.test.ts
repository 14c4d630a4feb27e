import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { CoordinatorMetrics, metricsRoutes } from "./index.ts";
import { parseExposition, value } from "./test-support.ts";

const get = (app: { handle(request: Request): Promise<Response> }, headers: Record<string, string> = {}, path = "/metrics") =>
  app.handle(new Request(`http://localhost${path}`, { headers }));

describe("GET /metrics", () => {
  test("serves the Prometheus text format", async () => {
    const metrics = new CoordinatorMetrics();
    metrics.jobFinished("timeout");
    const res = await get(new Elysia().use(metricsRoutes(metrics)));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const e = parseExposition(await res.text());
    expect(value(e, "gogrid_jobs_total", { outcome: "timeout" })).toBe(1);
  });

  test("with a token, needs `Authorization: Bearer <token>`", async () => {
    const app = new Elysia().use(metricsRoutes(new CoordinatorMetrics(), { token: "s3cret-token" }));
    const refused: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Basic s3cret-token" },
      { authorization: "Bearer" },
    ];
    for (const headers of refused) {
      const res = await get(app, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
      const body = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error.type).toBe("authentication_error");
      expect(body.error.code).toBe("invalid_metrics_token");
      expect(body.error.message).not.toContain("s3cret-token");
    }
    const ok = await get(app, { authorization: "Bearer s3cret-token" });
    expect(ok.status).toBe(200);
    expect(parseExposition(await ok.text()).types.get("gogrid_jobs_total")).toBe("counter");
    expect((await get(app, { authorization: "bearer   s3cret-token " })).status).toBe(200);
  });

  test("the path can be moved", async () => {
    const app = new Elysia().use(metricsRoutes(new CoordinatorMetrics(), { path: "/internal/metrics" }));
    expect((await get(app, {}, "/internal/metrics")).status).toBe(200);
    expect((await get(app)).status).toBe(404);
  });
});

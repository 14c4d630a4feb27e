import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { errorHandling } from "../api/app.ts";
import { unauthorized } from "../api/errors.ts";
import { CoordinatorMetrics, httpMetrics, metricsRoutes } from "./index.ts";
import { type Exposition, find, scrape, value } from "./test-support.ts";

/** Hooks run after the response is sent (setImmediate): wait for them before reading. */
const settle = () => new Promise((r) => setTimeout(r, 5));

type App = { handle(request: Request): Promise<Response> };

async function call(app: App, path: string, init: RequestInit = {}): Promise<number> {
  const res = await app.handle(new Request(`http://localhost${path}`, init));
  await res.arrayBuffer();
  return res.status;
}

function counts(e: Exposition, name: string): Record<string, number> {
  return Object.fromEntries(find(e, name).map((s) => [`${s.labels.route} ${s.labels.status}`, s.value]));
}

function apiLike(metrics: CoordinatorMetrics) {
  const logged: string[] = [];
  const app = new Elysia()
    .use(httpMetrics(metrics))
    .use(errorHandling((_level, message) => logged.push(message)))
    .use(metricsRoutes(metrics))
    .get("/v1/models", () => ({ object: "list", data: [] }))
    .get("/api/v1/jobs/:id", ({ params }) => ({ id: params.id }))
    .get("/teapot", ({ set }) => {
      set.status = 418;
      return "short and stout";
    })
    .post("/v1/completions", () => {
      throw unauthorized("no key");
    })
    .get("/boom", () => {
      throw new Error("kaput");
    })
    .get("/async-boom", async () => {
      await Bun.sleep(1);
      throw new Error("later kaput");
    })
    .get("/sse", () => new Response("data: [DONE]\n\n", { headers: { "content-type": "text/event-stream" } }));
  return { app, logged };
}

describe("httpMetrics", () => {
  test("counts by route pattern and status: successes, 404s, thrown errors", async () => {
    const metrics = new CoordinatorMetrics();
    const { app, logged } = apiLike(metrics);
    expect(await call(app, "/v1/models")).toBe(200);
    expect(await call(app, "/v1/models")).toBe(200);
    expect(await call(app, "/api/v1/jobs/abc")).toBe(200);
    expect(await call(app, "/api/v1/jobs/def")).toBe(200);
    expect(await call(app, "/teapot")).toBe(418);
    expect(await call(app, "/sse")).toBe(200);
    expect(await call(app, "/no/such/thing")).toBe(404);
    expect(await call(app, "/another/unknown/url?x=1")).toBe(404);
    expect(await call(app, "/v1/completions", { method: "POST" })).toBe(401);
    expect(await call(app, "/boom")).toBe(500);
    expect(await call(app, "/async-boom")).toBe(500);
    await settle();
    expect(logged).toHaveLength(2);

    const e = await scrape(app);
    expect(counts(e, "gogrid_http_requests_total")).toEqual({
      "/v1/models 200": 2,
      "/api/v1/jobs/:id 200": 2,
      "/teapot 418": 1,
      "/sse 200": 1,
      "unmatched 404": 2,
      "/v1/completions 401": 1,
      "/boom 500": 1,
      "/async-boom 500": 1,
    });
    expect(counts(e, "gogrid_http_errors_total")).toEqual({
      "/teapot 418": 1,
      "unmatched 404": 2,
      "/v1/completions 401": 1,
      "/boom 500": 1,
      "/async-boom 500": 1,
    });
  });

  test("the scrape itself is counted once it has been answered", async () => {
    const metrics = new CoordinatorMetrics();
    const { app } = apiLike(metrics);
    await scrape(app);
    await settle();
    const e = await scrape(app);
    expect(value(e, "gogrid_http_requests_total", { route: "/metrics", status: "200" })).toBe(1);
  });

  test("errors are counted even when another error handler answers first", async () => {
    const metrics = new CoordinatorMetrics();
    const app = new Elysia()
      .use(errorHandling(() => {}))
      .use(httpMetrics(metrics))
      .use(metricsRoutes(metrics))
      .get("/boom", () => {
        throw new Error("kaput");
      })
      .get("/denied", () => {
        throw unauthorized("no key");
      });
    expect(await call(app, "/boom")).toBe(500);
    expect(await call(app, "/denied")).toBe(401);
    expect(await call(app, "/nowhere")).toBe(404);
    await settle();
    const e = await scrape(app);
    expect(counts(e, "gogrid_http_errors_total")).toEqual({ "/boom 500": 1, "/denied 401": 1, "unmatched 404": 1 });
  });

  test("without any error handler, Elysia's own answers are counted", async () => {
    const metrics = new CoordinatorMetrics();
    const app = new Elysia()
      .use(httpMetrics(metrics))
      .use(metricsRoutes(metrics))
      .post("/json", ({ body }) => body)
      .get("/boom", () => {
        throw new Error("kaput");
      });
    expect(await call(app, "/boom")).toBe(500);
    expect(await call(app, "/missing")).toBe(404);
    expect(await call(app, "/json", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } })).toBe(400);
    await settle();
    const e = await scrape(app);
    expect(counts(e, "gogrid_http_errors_total")).toEqual({ "/boom 500": 1, "unmatched 404": 1, "/json 400": 1 });
  });
});

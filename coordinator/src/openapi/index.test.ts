import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { ChatRequest, CompletionRequest } from "../api/openai/model.ts";
import { openApiDocs } from "./index.ts";
import type { OpenApiDocument } from "./model.ts";

/** A stand-in for the API app: real paths without schemas, as the coordinator declares them. */
function app() {
  return new Elysia()
    .use(openApiDocs())
    .get("/healthz", () => ({ ok: true }))
    .get("/v1/models", () => ({ object: "list", data: [] }))
    .post("/v1/completions", () => ({}))
    .get("/api/v1/jobs/:id", () => ({}));
}

async function fetchDoc(a = app()): Promise<OpenApiDocument> {
  const res = await a.handle(new Request("http://localhost/openapi/json"));
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  return (await res.json()) as OpenApiDocument;
}

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function resolve(doc: OpenApiDocument, ref: string): unknown {
  expect(ref).toStartWith("#/");
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((n, key) => (n && typeof n === "object" ? (n as Record<string, unknown>)[key] : undefined), doc);
}

type Schema = { required?: string[]; properties?: Record<string, unknown> };

describe("GET /openapi/json", () => {
  test("is an OpenAPI 3.1 document of exactly the client API", async () => {
    const doc = await fetchDoc();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe("GoGrid API");
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/register",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
        "/v1/models/{id}",
      ].sort(),
    );
    expect(Object.keys(doc.paths["/v1/models"]!)).toEqual(["get"]);
    expect(Object.keys(doc.paths["/v1/completions"]!)).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/chat/completions"]!)).toEqual(["post"]);
    expect(Object.keys(doc.paths["/api/v1/jobs"]!)).toEqual(["post"]);
    expect(Object.keys(doc.paths["/api/v1/jobs/{id}"]!).sort()).toEqual(["delete", "get"]);
    expect(Object.keys(doc.paths["/api/v1/register"]!)).toEqual(["post"]);
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("declares bearer auth for everything but enrolment", async () => {
    const doc = await fetchDoc();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/api/v1/register"]!.post!.security).toEqual([]);
    expect(doc.paths["/v1/completions"]!.post!.security).toBeUndefined();
  });

  test("request bodies are the API's own TypeBox models, with their required fields", async () => {
    const doc = await fetchDoc();
    const body = (path: string) => doc.paths[path]!.post!.requestBody!.content["application/json"]!.schema;
    const completion = resolve(doc, body("/v1/completions").$ref as string) as Schema;
    const chat = resolve(doc, body("/v1/chat/completions").$ref as string) as Schema;
    expect(completion.required).toEqual(expect.arrayContaining(["model", "prompt"]));
    expect(chat.required).toEqual(expect.arrayContaining(["model", "messages"]));
    expect(chat.required).not.toContain("prompt");
    expect(completion).toEqual(JSON.parse(JSON.stringify(CompletionRequest)));
    expect(chat).toEqual(JSON.parse(JSON.stringify(ChatRequest)));
    expect(Object.keys(completion.properties ?? {})).toContain("stream");
    expect(refs(body("/api/v1/jobs"))).toEqual(["#/components/schemas/CompletionRequest", "#/components/schemas/ChatRequest"]);
    expect((resolve(doc, "#/components/schemas/RegisterRequest") as Schema).required).toEqual(["token", "csr"]);
  });

  test("errors are OpenAI-shaped and every $ref resolves", async () => {
    const doc = await fetchDoc();
    const error = doc.components.schemas.Error as { properties: { error: Schema } };
    expect(error.properties.error.required).toEqual(["message", "type", "param", "code"]);
    const [unauthorizedRef] = refs(doc.paths["/v1/models"]!.get!.responses["401"]);
    const unauthorized = resolve(doc, unauthorizedRef as string) as { content: Record<string, { schema: unknown }> };
    expect(unauthorized.content["application/json"]!.schema).toEqual({ $ref: "#/components/schemas/Error" });
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(20);
    for (const r of all) expect(resolve(doc, r)).toBeDefined();
    expect(refs(doc.paths["/v1/completions"]!.post!.responses["503"])).toEqual(["#/components/responses/Unavailable"]);
    expect(doc.components.responses.Unavailable!.headers!["Retry-After"]).toBeDefined();
    expect(Object.keys(doc.paths["/v1/completions"]!.post!.responses["200"] as object)).toContain("content");
    const streamed = doc.paths["/v1/completions"]!.post!.responses["200"] as { content: Record<string, unknown> };
    expect(Object.keys(streamed.content).sort()).toEqual(["application/json", "text/event-stream"]);
  });

  test("routes of the app it is mounted in do not leak into the document", async () => {
    const doc = await fetchDoc();
    expect(doc.paths["/healthz"]).toBeUndefined();
    expect(doc.paths["/openapi"]).toBeUndefined();
    expect(doc.paths["/openapi/json"]).toBeUndefined();
    // the hand-built operation wins over the bare generated one
    expect(doc.paths["/api/v1/jobs/{id}"]!.get!.operationId).toBe("getJob");
  });

  test("serverUrl and path options", async () => {
    const a = new Elysia().use(openApiDocs({ path: "/docs", serverUrl: "https://bx.ee" }));
    const res = await a.handle(new Request("http://localhost/docs/json"));
    expect(((await res.json()) as OpenApiDocument).servers).toEqual([{ url: "https://bx.ee" }]);
    expect((await a.handle(new Request("http://localhost/docs"))).status).toBe(200);
    expect((await a.handle(new Request("http://localhost/openapi/json"))).status).toBe(404);
  });
});

describe("GET /openapi", () => {
  test("is a self-contained HTML page (no scripts, nothing remote)", async () => {
    const res = await app().handle(new Request("http://localhost/openapi"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
    expect(html).toContain('href="/openapi/json"');
    for (const path of ["/v1/models", "/v1/completions", "/v1/chat/completions", "/api/v1/jobs/{id}", "/api/v1/register"]) {
      expect(html).toContain(`<code>${path}</code>`);
    }
    expect(html).toContain("<code>messages</code>");
    expect(html).toContain("<code>prompt</code>");
  });
});

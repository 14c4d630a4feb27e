// openApiDocs(): GET /openapi (offline HTML overview) and GET /openapi/json (the OpenAPI 3.1 document).
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import pkg from "../../package.json" with { type: "json" };
import { openApiDocument } from "./document.ts";
import type { OpenApiDocument } from "./model.ts";
import { renderPage } from "./page.ts";

export { openApiDocument } from "./document.ts";
export type { OpenApiDocument } from "./model.ts";

export interface OpenApiDocsOptions {
  /** Default `/openapi`; the JSON is at `<path>/json`. */
  path?: string;
  /** Base URL written into the document's `servers` (e.g. the public API URL). */
  serverUrl?: string;
}

/**
 * The plugin serves the JSON from our hand-built document only: generating from routes is turned
 * off (the routes declare no schemas, so it would list bare paths), and so is its UI (Scalar and
 * Swagger UI load their scripts from a CDN); the page at `path` is our own, without scripts.
 */
export function openApiDocs(options: OpenApiDocsOptions = {}) {
  const path = options.path ?? "/openapi";
  const specPath = `${path}/json`;
  const doc: OpenApiDocument = openApiDocument({ version: pkg.version, ...(options.serverUrl ? { serverUrl: options.serverUrl } : {}) });
  const page = renderPage(doc, specPath);
  return new Elysia()
    .use(
      openapi({
        path,
        specPath,
        provider: null,
        openapiVersion: doc.openapi,
        exclude: { paths: [/^/] },
        documentation: doc,
      }),
    )
    .get(path, () => new Response(page, { headers: { "Content-Type": "text/html; charset=utf-8" } }), { detail: { hide: true } });
}

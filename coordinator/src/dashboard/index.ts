// The operator dashboard on the API port: sign-in, the page, its JSON API and static assets.
import { join } from "node:path";
import { Elysia } from "elysia";
import type { Repository } from "../db/repository.ts";
import { CURRENCY } from "../earnings/pricing.ts";
import {
  clearedSessionCookie,
  LoginLimiter,
  passwordMatches,
  readCookie,
  readPasswordFile,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  SessionStore,
  sessionCookie,
} from "./auth.ts";
import * as data from "./data.ts";
import { appPage, type LoginNotice, loginPage, PAGE_HEADERS } from "./pages.ts";

export { DashboardAuthError, setDashboardPassword, verifyDashboardPassword } from "./auth.ts";

export interface DashboardOptions {
  repo: Repository;
  /** The coordinator's data dir: `dashboard.json` (the password hash) lives there. */
  dataDir: string;
  /** Always mark the session cookie Secure (set it when TLS ends at a proxy in front). */
  secureCookies?: boolean;
  now?: () => number;
  /** Shown in the header and the title. */
  gridName?: string;
  /** The client's address, for the login rate limit (e.g. `(req) => server.requestIP(req)?.address`). */
  clientIp?: (request: Request) => string | null | undefined;
}

const ASSETS = new Map<string, { file: () => string; type: string }>(
  Object.entries({
    "uplot.min.js": {
      file: () => Bun.resolveSync("uplot/dist/uPlot.iife.min.js", import.meta.dir),
      type: "text/javascript; charset=utf-8",
    },
    "uplot.min.css": { file: () => Bun.resolveSync("uplot/dist/uPlot.min.css", import.meta.dir), type: "text/css; charset=utf-8" },
    "app.js": { file: () => join(import.meta.dir, "assets", "app.js"), type: "text/javascript; charset=utf-8" },
    "app.css": { file: () => join(import.meta.dir, "assets", "app.css"), type: "text/css; charset=utf-8" },
    "favicon.svg": { file: () => join(import.meta.dir, "assets", "favicon.svg"), type: "image/svg+xml" },
  }),
);

/** GET /dashboard/api/<name>: the JSON behind each part of the page. */
const VIEWS = new Map<string, (repo: Repository, at: number) => Promise<unknown>>(
  Object.entries({
    overview: data.overview,
    workers: data.workers,
    jobs: (repo, at) => data.recentJobs(repo, at),
    earnings: data.earningsByDay,
    throughput: data.throughput,
  }),
);

const JSON_HEADERS = { "cache-control": "no-store", "x-content-type-options": "nosniff" };

const html = (body: string, status = 200, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { ...PAGE_HEADERS, ...headers } });

const notSignedIn = () =>
  Response.json(
    { error: { code: "not_signed_in", message: "sign in at /dashboard first (your session may have expired)" } },
    {
      status: 401,
      headers: JSON_HEADERS,
    },
  );

function isHttps(request: Request): boolean {
  if (new URL(request.url).protocol === "https:") return true;
  return request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase() === "https";
}

export function dashboardRoutes(opts: DashboardOptions) {
  const now = opts.now ?? Date.now;
  const gridName = opts.gridName ?? "GoGrid";
  const sessions = new SessionStore(now, SESSION_TTL_MS);
  const limiter = new LoginLimiter(now);
  const assetCache = new Map<string, Promise<string>>();
  const repo = data.withJobCache(opts.repo, now);
  const secure = (request: Request) => opts.secureCookies === true || isHttps(request);
  const sessionOf = (request: Request) => readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  const signedIn = (request: Request) => sessions.valid(sessionOf(request));

  // `passwordSet`: whether the password file the request read has a password (read here when not given)
  const loginResponse = async (status: number, notice: LoginNotice, headers: Record<string, string> = {}, passwordSet?: boolean) =>
    html(loginPage({ gridName, passwordSet: passwordSet ?? (await readPasswordFile(opts.dataDir)) !== null, notice }), status, headers);

  return new Elysia()
    .get("/dashboard", async ({ request }) => {
      if (signedIn(request)) return html(appPage({ gridName, currency: CURRENCY }));
      const loggedOut = new URL(request.url).searchParams.has("signed-out");
      return loginResponse(200, loggedOut ? { kind: "info", text: "You have been signed out." } : null);
    })
    .post("/dashboard/login", async ({ request, body, server }) => {
      const client = opts.clientIp?.(request) ?? server?.requestIP(request)?.address ?? "unknown";
      const wait = limiter.retryAfterSecs(client);
      // read once for this sign-in (each sign-in reads it afresh: a new password works at once)
      const file = await readPasswordFile(opts.dataDir);
      if (wait > 0) {
        return loginResponse(
          429,
          { kind: "error", text: `Too many failed sign-ins. Try again in ${wait} s.` },
          { "retry-after": String(wait) },
          file !== null,
        );
      }
      if (!file) return loginResponse(401, null, {}, false);
      const password = (body as Record<string, unknown> | null)?.password;
      if (typeof password !== "string" || !(await passwordMatches(file, password))) {
        limiter.fail(client);
        return loginResponse(401, { kind: "error", text: "Wrong password." }, {}, true);
      }
      limiter.succeed(client);
      const session = sessions.create();
      return new Response(null, {
        status: 303,
        headers: {
          location: "/dashboard",
          "set-cookie": sessionCookie(session.id, { secure: secure(request), maxAgeSecs: Math.floor(SESSION_TTL_MS / 1000) }),
          "cache-control": "no-store",
        },
      });
    })
    .post("/dashboard/logout", ({ request }) => {
      sessions.destroy(sessionOf(request));
      return new Response(null, {
        status: 303,
        headers: { location: "/dashboard?signed-out", "set-cookie": clearedSessionCookie(secure(request)), "cache-control": "no-store" },
      });
    })
    .get("/dashboard/api/:view", async ({ request, params }) => {
      if (!signedIn(request)) return notSignedIn();
      const view = VIEWS.get(params.view);
      if (!view) return Response.json({ error: { code: "not_found", message: `no dashboard view ${params.view}` } }, { status: 404 });
      return Response.json(await view(repo, now()), { headers: JSON_HEADERS });
    })
    .get("/dashboard/assets/:name", async ({ params }) => {
      const asset = ASSETS.get(params.name);
      if (!asset) return new Response("not found", { status: 404, headers: { "content-type": "text/plain" } });
      let text = assetCache.get(params.name);
      if (!text) {
        text = Bun.file(asset.file()).text();
        assetCache.set(params.name, text);
        text.catch(() => assetCache.delete(params.name));
      }
      return new Response(await text, {
        headers: { "content-type": asset.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" },
      });
    });
}

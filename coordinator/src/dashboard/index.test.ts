import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { setDashboardPassword } from "./auth.ts";
import { type DashboardOptions, dashboardRoutes } from "./index.ts";
import { fakeRepository, job, worker } from "./testing.ts";

const PASSWORD = "a long admin password";
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const repo = fakeRepository({
  workers: [worker({ nodeId: "n1", name: "<b>box</b>", status: "busy", lastHeartbeatAt: NOW - 1000 })],
  jobs: [job({ id: "j1", createdAt: NOW - 5000, finishedAt: NOW - 1000, workerId: "n1", completionTokens: 30 })],
  ledger: [],
});
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "gogrid-dash-"));
  await setDashboardPassword(dataDir, PASSWORD);
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function app(over: Partial<DashboardOptions> = {}) {
  let ip = "10.0.0.1";
  const a = new Elysia().use(dashboardRoutes({ repo, dataDir, now: () => NOW, clientIp: () => ip, ...over }));
  return {
    handle: (path: string, init?: RequestInit) => a.handle(new Request(`http://127.0.0.1${path}`, init)),
    setIp: (v: string) => {
      ip = v;
    },
  };
}

const login = (password: string) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ password }).toString(),
});

async function signIn(a: ReturnType<typeof app>): Promise<string> {
  const res = await a.handle("/dashboard/login", login(PASSWORD));
  expect(res.status).toBe(303);
  return (res.headers.get("set-cookie") ?? "").split(";")[0] as string;
}

describe("dashboard routes", () => {
  test("without a session: the sign-in page and 401 from the API", async () => {
    const a = app();
    const page = await a.handle("/dashboard");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('action="/dashboard/login"');
    for (const path of ["overview", "workers", "jobs", "earnings", "throughput"]) {
      const res = await a.handle(`/dashboard/api/${path}`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_signed_in");
    }
  });

  test("no password set: the page says how to set one", async () => {
    const empty = mkdtempSync(join(tmpdir(), "gogrid-dash-empty-"));
    try {
      const a = app({ dataDir: empty });
      const html = await (await a.handle("/dashboard")).text();
      expect(html).toContain("gogrid-admin dashboard-password");
      expect(html).not.toContain('action="/dashboard/login"');
      expect((await a.handle("/dashboard/login", login("whatever at all"))).status).toBe(401);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("login sets an HttpOnly, SameSite=Strict cookie and opens the API", async () => {
    const a = app();
    const res = await a.handle("/dashboard/login", login(PASSWORD));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard");
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^gogrid_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/dashboard");
    expect(cookie).not.toContain("Secure");
    const session = cookie.split(";")[0] as string;

    const page = await a.handle("/dashboard", { headers: { cookie: session } });
    const html = await page.text();
    expect(html).toContain('src="/dashboard/assets/uplot.min.js"');
    expect(html).toContain('action="/dashboard/logout"');

    const overview = await a.handle("/dashboard/api/overview", { headers: { cookie: session } });
    expect(overview.status).toBe(200);
    expect(overview.headers.get("cache-control")).toBe("no-store");
    const body = (await overview.json()) as { workers: { busy: number }; queueDepth: number };
    expect(body.workers.busy).toBe(1);
    expect(body.queueDepth).toBe(0);
    for (const path of ["workers", "jobs", "earnings", "throughput"]) {
      expect((await a.handle(`/dashboard/api/${path}`, { headers: { cookie: session } })).status).toBe(200);
    }
    for (const path of ["nothing", "constructor", "__proto__", "toString"])
      expect((await a.handle(`/dashboard/api/${path}`, { headers: { cookie: session } })).status).toBe(404);
    expect((await a.handle("/dashboard/api/overview", { headers: { cookie: `${session}x` } })).status).toBe(401);
  });

  test("Secure cookie with secureCookies or over https", async () => {
    const a = app({ secureCookies: true });
    expect((await a.handle("/dashboard/login", login(PASSWORD))).headers.get("set-cookie")).toContain("; Secure");
    const b = new Elysia().use(dashboardRoutes({ repo, dataDir }));
    const res = await b.handle(new Request("https://grid.example/dashboard/login", login(PASSWORD)));
    expect(res.headers.get("set-cookie")).toContain("; Secure");
  });

  test("wrong password: 401 and the page says so", async () => {
    const a = app();
    const res = await a.handle("/dashboard/login", login("not the password"));
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("Wrong password.");
    expect((await a.handle("/dashboard/login", { method: "POST", body: "" })).status).toBe(401);
  });

  test("5 failures a minute from one address: 429 with Retry-After, others unaffected", async () => {
    const a = app();
    for (let i = 0; i < 5; i++) expect((await a.handle("/dashboard/login", login(`wrong ${i}`))).status).toBe(401);
    const limited = await a.handle("/dashboard/login", login(PASSWORD));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    a.setIp("10.0.0.2");
    expect((await a.handle("/dashboard/login", login(PASSWORD))).status).toBe(303);
  });

  test("logout ends the session", async () => {
    const a = app();
    const session = await signIn(a);
    const out = await a.handle("/dashboard/logout", { method: "POST", headers: { cookie: session } });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await a.handle("/dashboard/api/overview", { headers: { cookie: session } })).status).toBe(401);
    expect(await (await a.handle("/dashboard?signed-out", { headers: { cookie: session } })).text()).toContain("signed out");
  });

  test("sessions expire after 12 hours", async () => {
    let t = NOW;
    const a = app({ now: () => t });
    const session = await signIn(a);
    t += 12 * 3600 * 1000 - 1;
    expect((await a.handle("/dashboard/api/workers", { headers: { cookie: session } })).status).toBe(200);
    t += 1;
    expect((await a.handle("/dashboard/api/workers", { headers: { cookie: session } })).status).toBe(401);
  });

  test("static assets: uPlot from node_modules and our own files", async () => {
    const a = app();
    const js = await a.handle("/dashboard/assets/uplot.min.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toStartWith("text/javascript");
    expect(await js.text()).toContain("uPlot");
    expect((await a.handle("/dashboard/assets/uplot.min.css")).headers.get("content-type")).toStartWith("text/css");
    expect(await (await a.handle("/dashboard/assets/app.js")).text()).toContain("/dashboard/api/");
    expect((await a.handle("/dashboard/assets/app.css")).status).toBe(200);
    expect((await a.handle("/dashboard/assets/favicon.svg")).headers.get("content-type")).toBe("image/svg+xml");
    for (const name of ["..%2Fauth.ts", "constructor", "__proto__"]) expect((await a.handle(`/dashboard/assets/${name}`)).status).toBe(404);
  });

  test("the pages escape text and the app never writes data with innerHTML", async () => {
    const a = app({ gridName: `<script>alert(1)</script>` });
    const html = await (await a.handle("/dashboard")).text();
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const js = await Bun.file(join(import.meta.dir, "assets", "app.js")).text();
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });
});

// The dashboard in a real browser: Debian's chromium driven by playwright-core signs in and sees a
// connected worker, a completed job and its earnings; the screenshot goes to .test-output/.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { Elysia } from "elysia";
import { type Browser, chromium } from "playwright-core";
import { dashboardRoutes, setDashboardPassword } from "../src/dashboard/index.ts";
import { creditCompletedJob } from "../src/earnings/ledger.ts";
import { addModel, apiKey, enrolmentToken, start, until } from "./harness.ts";
import { enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(120_000);

const CHROMIUM = "/usr/bin/chromium";
const PASSWORD = "dashboard test password";
const OUTPUT = join(import.meta.dir, "..", "..", ".test-output");
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

let c: Awaited<ReturnType<typeof start>>;
let dashboardServer: ReturnType<typeof Bun.serve> | null = null;
let browser: Browser | null = null;
let worker: SimWorker | null = null;
let baseUrl = "";

beforeAll(async () => {
  c = await start();
  const dataDir = dirname(c.pki.dir);
  await setDashboardPassword(dataDir, PASSWORD);
  // The coordinator serves the dashboard on its API port once it mounts the plugin; until then
  // (or if it does not) this test serves it itself, on the same repository.
  const mounted = await fetch(`${c.apiUrl}/dashboard`)
    .then(async (r) => r.status === 200 && (await r.text()).includes('action="/dashboard/login"'))
    .catch(() => false);
  if (mounted) {
    baseUrl = c.apiUrl;
  } else {
    const app = new Elysia().use(dashboardRoutes({ repo: c.repo, dataDir, gridName: "test grid" }));
    dashboardServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => app.handle(req) });
    baseUrl = `http://127.0.0.1:${dashboardServer.port}`;
  }
});

afterAll(async () => {
  await browser?.close();
  worker?.close();
  await dashboardServer?.stop(true);
  await c?.cleanup();
});

test("sign in and see a connected worker, a completed job and its earnings", async () => {
  expect(existsSync(CHROMIUM)).toBe(true);

  // a priced model, one worker, one completion through the OpenAI API
  await addModel(c.repo);
  await c.repo.setPrice({ modelId: "stories260K", completionMicrosPer1k: 2000, promptMicrosPer1k: 0 });
  const key = await apiKey(c.repo);
  worker = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo), "test-rig"), {
    kind: "answer",
    text: () => "Once upon a time there was a little dashboard that showed every token it was given.",
  });
  expect(await worker.connect()).toBe(true);
  const nodeId = worker.id.nodeId;
  const res = await fetch(`${c.apiUrl}/v1/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "stories260K", prompt: "Once upon a time", max_tokens: 32, temperature: 0 }),
  });
  expect(res.status).toBe(200);
  const [done] = await c.repo.listJobs({ status: ["completed"] });
  expect(done?.workerId).toBe(nodeId);
  const jobId = done?.id as string;

  // the gateway credits completed jobs; if it does not (yet), credit this one here
  const credited = await until(async () => (await c.repo.listLedger({})).length > 0, 2000, "ledger entry").then(
    () => true,
    () => false,
  );
  if (!credited) await creditCompletedJob(c.repo, { id: jobId }, nodeId, Date.now());
  expect((await c.repo.ledgerTotals({ nodeId })).amountMicros).toBeGreaterThan(0);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const foreign: string[] = [];
  const problems: string[] = [];
  page.on("request", (r) => {
    const url = new URL(r.url());
    if ((url.protocol === "http:" || url.protocol === "https:") && !LOCAL_HOSTS.has(url.hostname)) foreign.push(r.url());
  });
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
  });
  page.on("response", (r) => {
    const expected = r.status() === 401 && r.request().method() === "POST" && r.url().endsWith("/dashboard/login"); // the wrong password
    if (r.status() >= 400 && !expected) problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on("pageerror", (e) => problems.push(e.message));

  // sign in
  await page.goto(`${baseUrl}/dashboard`);
  await page.fill("#password", "wrong password!!");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Wrong password.");
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "dashboard-login.png") });
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL(`${baseUrl}/dashboard`), page.click("button[type=submit]")]);
  const cookies = await page.context().cookies();
  expect(cookies.find((k) => k.name === "gogrid_session")).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/dashboard" });

  // the worker, the job and the earnings appear
  const workerRow = page.locator(`#workers tr[data-node="${nodeId}"]`);
  await workerRow
    .locator(".pill")
    .filter({ hasText: /^(online|idle|busy)$/ })
    .waitFor();
  expect(await workerRow.textContent()).toContain("test-rig");
  expect(await workerRow.textContent()).toContain("Simulated GPU");
  const jobRow = page.locator(`#jobs tr[data-job="${jobId}"]`);
  await jobRow.locator(".pill.s-completed").waitFor();
  expect(await jobRow.textContent()).toContain("stories260K");
  await page.locator("#card-earned [data-value]").filter({ hasText: /[1-9]/ }).waitFor(); // a non-zero amount
  const earned = await page.locator("#card-earned [data-value]").textContent();
  expect(earned).toMatch(/^\$0\.0+[1-9]/);
  expect(await workerRow.locator("td").nth(8).textContent()).toBe(earned);
  expect(await page.locator("#card-online [data-value]").textContent()).toBe("1");
  await page.waitForSelector("#chart-earnings canvas");
  await page.waitForSelector("#chart-throughput canvas");
  await page.waitForSelector("#live[data-state=ok]");

  await page.screenshot({ path: join(OUTPUT, "dashboard.png"), fullPage: true });

  // signing out ends the session
  await Promise.all([page.waitForURL(/signed-out/), page.click("#logout")]);
  expect(await page.locator("#password").count()).toBe(1);
  expect((await page.request.get(`${baseUrl}/dashboard/api/overview`)).status()).toBe(401);

  expect(foreign).toEqual([]);
  expect(problems).toEqual([]);
});

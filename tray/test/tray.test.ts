// End to end on a virtual X display: Xvfb, trayer as the tray host, a fake worker control API on a unix
// socket, and the real tray (systray2's helper). Checks the icon's colour per state from screenshots,
// opens the menu with a click and pauses the worker from it. Screenshots go to .test-output/tray-*.png.
// Needs (Debian): xvfb trayer xdotool imagemagick libayatana-appindicator3-1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerStatus } from "../src/state.ts";

const ROOT = join(import.meta.dir, "..", "..");
const OUT = join(ROOT, ".test-output");
const TOOLS = ["Xvfb", "trayer", "xdotool", "import", "convert"];
const missingTools = TOOLS.filter((t) => !Bun.which(t));
if (missingTools.length)
  console.warn(`tray Xvfb test skipped: missing ${missingTools.join(", ")} (Debian: apt-get install xvfb trayer xdotool imagemagick)`);

const COLOURS: Record<string, [number, number, number]> = {
  green: [0x2e, 0x9e, 0x44],
  yellow: [0xe8, 0xa8, 0x00],
  red: [0xd9, 0x30, 0x25],
  grey: [0x8a, 0x8f, 0x98],
  sleep: [0x4a, 0x6f, 0xa5],
};

const base: WorkerStatus = {
  state: "connected",
  status: "idle",
  node_id: "node-test",
  coordinator: "wss://grid.test:8443",
  mode: "default",
  backend: "cpu",
  jobs_running: 0,
  jobs_completed: 7,
  earned_today: "1.5",
  currency: "USD",
};

let tmp = "";
let display = "";
const procs: ChildProcess[] = [];
let server: ReturnType<typeof Bun.serve> | null = null;
let fake: WorkerStatus = { ...base };
const received: string[] = [];
let trayLog = "";

function start(cmd: string, args: string[], env: Record<string, string>): ChildProcess {
  // Own process group, so cleanup also takes the tray's helper with it.
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  p.stdout?.on("data", (d) => {
    trayLog += d;
  });
  p.stderr?.on("data", (d) => {
    trayLog += d;
  });
  procs.push(p);
  return p;
}

function x(args: string[]): string {
  const r = Bun.spawnSync(args, { env: { ...process.env, DISPLAY: display }, stderr: "pipe" });
  return r.stdout.toString();
}

async function waitFor<T>(
  what: string,
  fn: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(150);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}\n--- tray output ---\n${trayLog}`);
}

interface Geom {
  x: number;
  y: number;
  w: number;
  h: number;
}

function geometry(win: string): Geom | null {
  const out = x(["xdotool", "getwindowgeometry", "--shell", win]);
  const v = Object.fromEntries(out.split("\n").map((l) => l.split("=")));
  if (!v.WIDTH) return null;
  return { x: Number(v.X), y: Number(v.Y), w: Number(v.WIDTH), h: Number(v.HEIGHT) };
}

/** Visible windows of the tray helper (its icon is the one inside trayer's panel, its menu the tall one). */
function helperWindows(): Geom[] {
  return x(["xdotool", "search", "--onlyvisible", "--name", "^tray_linux_release$"])
    .split("\n")
    .filter(Boolean)
    .map(geometry)
    .filter((g): g is Geom => g !== null && g.x >= 0 && g.y >= 0);
}

function screenshot(file: string): void {
  const r = Bun.spawnSync(["import", "-window", "root", file], { env: { ...process.env, DISPLAY: display }, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`import failed: ${r.stderr}`);
}

/** The most common colour in a region, ignoring the white tray background and black. */
function dominantColour(file: string, g: Geom): [number, number, number] | null {
  const r = Bun.spawnSync(["convert", file, "-crop", `${g.w}x${g.h}+${g.x}+${g.y}`, "+repage", "-depth", "8", "rgb:-"]);
  const px = r.stdout;
  const counts = new Map<string, { n: number; sum: [number, number, number] }>();
  for (let i = 0; i + 2 < px.length; i += 3) {
    const [red, gr, bl] = [px[i]!, px[i + 1]!, px[i + 2]!];
    if (Math.min(red, gr, bl) > 225 || Math.max(red, gr, bl) < 30) continue;
    const key = `${red >> 5},${gr >> 5},${bl >> 5}`;
    const c = counts.get(key) ?? { n: 0, sum: [0, 0, 0] };
    c.n++;
    c.sum[0] += red;
    c.sum[1] += gr;
    c.sum[2] += bl;
    counts.set(key, c);
  }
  const best = [...counts.values()].sort((a, b) => b.n - a.n)[0];
  if (!best || best.n < 20) return null;
  return best.sum.map((s) => Math.round(s / best.n)) as [number, number, number];
}

const dist = (a: number[], b: number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

let icon: Geom;
let trayProc: ChildProcess | null = null;

describe.skipIf(missingTools.length > 0)("tray under Xvfb + trayer", () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "gogrid-tray-"));
    mkdirSync(OUT, { recursive: true });
    let n = 90 + Math.floor(Math.random() * 100);
    while (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) n++;
    display = `:${n}`;
    start("Xvfb", [display, "-screen", "0", "800x600x24", "-nolisten", "tcp", "-noreset"], {});
    await waitFor(`Xvfb on ${display}`, () => existsSync(`/tmp/.X11-unix/X${n}`) && x(["xdotool", "getdisplaygeometry"]).trim());
    start(
      "trayer",
      ["--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32", "--transparent", "false", "--tint", "0xffffff"],
      {
        DISPLAY: display,
      },
    );
    await waitFor("trayer's panel", () => x(["xdotool", "search", "--onlyvisible", "--name", "panel"]).trim());

    const sock = join(tmp, "control.sock");
    server = Bun.serve({
      unix: sock,
      fetch(req) {
        const { pathname } = new URL(req.url);
        received.push(`${req.method} ${pathname}`);
        if (pathname === "/status") return Response.json(fake);
        if (pathname === "/stats") return Response.json({ uptime_secs: 4242, runner: { jobsCompleted: 7 } });
        if (pathname === "/pause") {
          fake = { ...fake, status: "paused" };
          return Response.json({ status: "paused" });
        }
        if (pathname === "/resume") {
          fake = { ...fake, status: "idle" };
          return Response.json({ status: "idle" });
        }
        return Response.json({ error: { code: "not_found", message: pathname } }, { status: 404 });
      },
    });
    const home = join(tmp, "home");
    mkdirSync(home);
    // Stands in for xdg-open: records what the tray opens.
    const opener = join(tmp, "open.sh");
    writeFileSync(opener, `#!/bin/sh\necho "$1" >> "${join(tmp, "opened")}"\n`, { mode: 0o755 });
    trayProc = start(process.execPath, [join(ROOT, "tray", "src", "main.ts"), "--control", sock, "--interval", "300", "--debug"], {
      DISPLAY: display,
      HOME: home,
      XDG_CACHE_HOME: join(home, ".cache"),
      GOGRID_HOME: join(home, "gogrid"),
      GOGRID_TRAY_OPEN: opener,
    });
    icon = await waitFor(
      "the tray icon to appear in trayer",
      () => helperWindows().find((g) => g.w <= 64 && g.h <= 64 && g.w >= 8 && g.y < 40),
      20_000,
    );
  }, 60_000);

  afterAll(() => {
    server?.stop(true);
    for (const p of procs.reverse()) {
      try {
        if (p.pid) process.kill(-p.pid, "SIGKILL");
      } catch {}
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    writeFileSync(join(OUT, "tray-test.log"), trayLog);
  });

  const cases: [string, Partial<WorkerStatus>, keyof typeof COLOURS][] = [
    ["busy", { state: "connected", status: "busy", jobs_running: 1 }, "green"],
    ["idle", { state: "connected", status: "idle", jobs_running: 0 }, "yellow"],
    ["throttled", { state: "connected", status: "throttled" }, "sleep"],
    ["disconnected", { state: "disconnected", status: "idle" }, "red"],
    ["connecting", { state: "connecting", status: "idle" }, "grey"],
  ];
  for (const [name, patch, colour] of cases) {
    test(`${name} → ${colour} icon`, async () => {
      fake = { ...base, ...patch };
      const file = join(OUT, `tray-${name}.png`);
      let seen: [number, number, number] | null = null;
      await waitFor(
        `a ${colour} icon (expected rgb(${COLOURS[colour]}), last seen ${seen ? `rgb(${seen})` : "no icon colour"})`,
        () => {
          screenshot(file);
          seen = dominantColour(file, icon);
          return seen && dist(seen, COLOURS[colour]!) < 60;
        },
        8_000,
      );
    }, 15_000);
  }

  test("click opens the menu with the live status; Pause Worker calls POST /pause", async () => {
    fake = { ...base, status: "busy", jobs_running: 2 };
    await waitFor("the tray to show the busy state", () => trayLog.includes('menu: status="Connected, processing 2 jobs"'), 8_000);
    x(["xdotool", "mousemove", String(icon.x + Math.floor(icon.w / 2)), String(icon.y + Math.floor(icon.h / 2)), "click", "1"]);
    const menu = await waitFor("the menu to open", () => helperWindows().find((g) => g.h > 100), 8_000);
    screenshot(join(OUT, "tray-menu.png"));
    // The menu is the tray helper's popup; its first line is the status line shown in the log above.
    expect(menu.w).toBeGreaterThan(100);
    // Keyboard: the first three enabled items are Settings…, Statistics…, Pause Worker (info lines are disabled).
    x(["xdotool", "key", "--delay", "100", "Down", "Down", "Down", "Return"]);
    await waitFor("POST /pause from the menu", () => received.includes("POST /pause"), 8_000);
    await waitFor("the menu to offer Resume Worker", () => trayLog.includes('menu: pauseResume="Resume Worker"'), 8_000);
    await waitFor("the status line to say Paused", () => trayLog.includes('menu: status="Paused"'), 8_000);
  }, 30_000);

  test("Statistics… opens a local page with the worker's stats", async () => {
    fake = { ...base };
    x(["xdotool", "mousemove", String(icon.x + Math.floor(icon.w / 2)), String(icon.y + Math.floor(icon.h / 2)), "click", "1"]);
    await waitFor("the menu to open", () => helperWindows().find((g) => g.h > 100), 8_000);
    x(["xdotool", "key", "--delay", "100", "Down", "Down", "Return"]);
    const url = await waitFor("the tray to open a statistics URL", () => {
      const f = join(tmp, "opened");
      return (
        existsSync(f) &&
        readFileSync(f, "utf8")
          .split("\n")
          .find((l) => l.includes("/statistics"))
      );
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/statistics$/);
    const html = await (await fetch(url)).text();
    expect(html).toContain("Statistics");
    expect(html).toContain("4242");
    expect((await fetch(url.replace(/\/[0-9a-f]{32}\//, "/0000/"))).status).toBe(404);
  }, 20_000);

  test("worker not running → red icon and Start Worker offered", async () => {
    server?.stop(true);
    server = null;
    rmSync(join(tmp, "control.sock"), { force: true });
    const file = join(OUT, "tray-not-running.png");
    await waitFor("Start Worker to be offered", () => trayLog.includes('menu: start="Start Worker"'), 8_000);
    expect(trayLog).toContain('menu: status="Worker not running"');
    await waitFor(
      "a red icon",
      () => {
        screenshot(file);
        const c = dominantColour(file, icon);
        return c && dist(c, COLOURS.red!) < 60;
      },
      8_000,
    );
  }, 20_000);

  test("the compiled gogrid-tray carries its helper and icons: it shows the state from a bare HOME", async () => {
    const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
    expect(build.exitCode).toBe(0);
    if (trayProc?.pid) process.kill(-trayProc.pid, "SIGKILL");
    await waitFor(
      "the source tray's icon to go",
      () => !helperWindows().some((g) => g.w <= 64 && g.h <= 64 && g.w >= 8 && g.y < 40),
      8_000,
    );
    const sock = join(tmp, "control2.sock");
    fake = { ...base, status: "busy", jobs_running: 1 };
    server = Bun.serve({ unix: sock, fetch: () => Response.json(fake) });
    const home = join(tmp, "bare-home");
    mkdirSync(home);
    const bin = join(ROOT, "dist", "bin", `bun-linux-${process.arch}`, "gogrid-tray");
    trayProc = start(bin, ["--control", sock, "--interval", "300"], {
      DISPLAY: display,
      HOME: home,
      PATH: "/usr/bin:/bin",
      XDG_CACHE_HOME: join(home, ".cache"),
    });
    const compiledIcon = await waitFor(
      "the compiled tray's icon",
      () => helperWindows().find((g) => g.w <= 64 && g.h <= 64 && g.w >= 8 && g.y < 40),
      20_000,
    );
    const file = join(OUT, "tray-compiled.png");
    await waitFor(
      "a green icon from the embedded files",
      () => {
        screenshot(file);
        const c = dominantColour(file, compiledIcon);
        return c && dist(c, COLOURS.green!) < 60;
      },
      8_000,
    );
    expect(existsSync(join(home, ".cache", "gogrid", "tray-helper"))).toBe(true); // the helper, extracted from the binary
  }, 60_000);
});

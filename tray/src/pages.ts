// The tray's two local pages, "Settings…" and "Statistics…": a loopback HTTP server on a random port
// with a random path prefix (so other local users and web pages cannot drive it), opened in the browser.
import { randomBytes } from "node:crypto";
import { MODE_THRESHOLDS, RESOURCE_MODES } from "../../worker/src/resources/modes.ts";

export interface PagesBackend {
  /** GET /status, or null when the worker is not running. */
  status(): Promise<Record<string, unknown> | null>;
  /** GET /stats, or null when the worker is not running. */
  stats(): Promise<Record<string, unknown> | null>;
  setMode(mode: string): Promise<void>;
  /** Adaptive throttling on or off (the worker applies and saves it). */
  setThrottling(enabled: boolean): Promise<void>;
  /** The tray's own settings, kept in config.toml / the OS's login items. */
  notifications(): boolean;
  setNotifications(enabled: boolean): void;
  startAtLogin(): boolean;
  setStartAtLogin(enabled: boolean): void;
  configFile: string;
  logDir: string;
}

export interface PagesServer {
  settingsUrl: string;
  statisticsUrl: string;
  helpUrl: string;
  stop(): void;
}

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function page(title: string, body: string, refreshSecs?: number): Response {
  const refresh = refreshSecs ? `<meta http-equiv="refresh" content="${refreshSecs}">` : "";
  return new Response(
    `<!doctype html><html><head><meta charset="utf-8">${refresh}<title>GoGrid — ${esc(title)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:48em}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left;vertical-align:top}th{color:#555;font-weight:500}</style>
</head><body><h1>GoGrid — ${esc(title)}</h1>${body}</body></html>`,
    { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } },
  );
}

/** What the icon says, what to do, where things are, and who runs the grid. */
function helpBody(b: PagesBackend, s: Record<string, unknown> | null): string {
  const colours = table({
    green: "connected and running jobs",
    yellow: "connected and waiting for work, or paused by you or the operator",
    "blue (zz)": "resting because this computer is busy; it resumes by itself",
    red: "not connected, or the worker is not running (use Start Worker)",
    grey: "starting",
  });
  const grid = s?.coordinator
    ? `<p>This computer works for the grid at <b>${esc(s.coordinator)}</b>; its operator handles payouts and enrolment.</p>`
    : "";
  return `<h2>The icon</h2>${colours}
<h2>Common tasks</h2><ul>
<li><b>Pause Worker</b> stops new jobs at once (running ones finish); <b>Resume Worker</b> takes jobs again.</li>
<li><b>Settings…</b> chooses how much of this computer GoGrid may use: conservative, default or aggressive.</li>
<li><b>Statistics…</b> shows jobs, tokens, speed, load against the limits, and earnings.</li>
<li>From a terminal: <code>gogrid-worker status</code>, <code>gogrid-worker pause</code>, <code>gogrid-worker resume</code>.</li></ul>
<h2>Where things are</h2>${table({ "config file": b.configFile, logs: b.logDir })}${grid}`;
}

/** Nested objects as nested tables. */
function table(v: unknown): string {
  if (v === null || typeof v !== "object") return esc(v);
  const rows = Object.entries(v as Record<string, unknown>).map(([k, x]) => `<tr><th>${esc(k)}</th><td>${table(x)}</td></tr>`);
  return `<table>${rows.join("")}</table>`;
}

const NOT_RUNNING = "<p><b>The GoGrid worker is not running.</b> Start it from the tray menu or with <code>gogrid-worker run</code>.</p>";
/** Each mode's GPU threshold, as the worker applies it ("up to 50% of the GPU", "up to 70%", ...). */
const MODE_HELP = RESOURCE_MODES.map((m, i) => `up to ${MODE_THRESHOLDS[m].gpuPercent}%${i === 0 ? " of the GPU" : ""}`);

export function servePages(b: PagesBackend): PagesServer {
  const prefix = `/${randomBytes(16).toString("hex")}`;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname === `${prefix}/settings` && req.method === "POST") {
        const form = await req.formData();
        const s = await b.status();
        let note = "saved";
        try {
          const mode = String(form.get("mode") ?? "");
          if (s && mode && mode !== s.mode) await b.setMode(mode);
          const throttling = form.get("throttling") === "on";
          if (s && throttling !== s.adaptive_throttling) await b.setThrottling(throttling);
          b.setNotifications(form.get("notifications") === "on");
          b.setStartAtLogin(form.get("login") === "on");
        } catch (e) {
          note = (e as Error).message;
        }
        return new Response(null, { status: 303, headers: { location: `${prefix}/settings?note=${encodeURIComponent(note)}` } });
      }
      if (pathname === `${prefix}/settings`) {
        const s = await b.status();
        const note = new URL(req.url).searchParams.get("note");
        const current = String(s?.mode ?? "default");
        const check = (name: string, on: boolean, label: string, disabled = false) =>
          `<label><input type="checkbox" name="${name}"${on ? " checked" : ""}${disabled ? " disabled" : ""}> ${esc(label)}</label><br>`;
        const modes = RESOURCE_MODES.map(
          (m, i) =>
            `<label><input type="radio" name="mode" value="${m}"${m === current ? " checked" : ""}${s ? "" : " disabled"}> ${m} (${MODE_HELP[i]})</label><br>`,
        ).join("");
        const gpus =
          Array.isArray(s?.gpus) && s.gpus.length
            ? (s.gpus as { name: string; vram_mb: number }[]).map((g) => `${g.name} (${Math.round(g.vram_mb / 1024)} GiB)`).join(", ")
            : "none found (runs on the CPU)";
        const form = `<form method="post">
<h2>Resource mode</h2><p>How much of this computer the worker may use:</p>${modes}
<h2>Behaviour</h2>${check("throttling", s?.adaptive_throttling !== false, "Adaptive throttling: take no jobs while this computer is busy", !s)}${check("notifications", b.notifications(), "Notifications when the worker disconnects, rests or resumes")}${check("login", b.startAtLogin(), "Start GoGrid at login")}
<p><button>Save</button>${note ? ` <i>${esc(note)}</i>` : ""}</p></form>`;
        return page(
          "Settings",
          `${s ? "" : NOT_RUNNING}${form}<h2>This computer</h2>${table({ GPU: gpus, backend: s?.backend ?? "-", "config file": b.configFile, logs: b.logDir })}`,
        );
      }
      if (pathname === `${prefix}/help`) {
        const s = await b.status();
        return page("Help", helpBody(b, s));
      }
      if (pathname === `${prefix}/statistics`) {
        const st = await b.stats();
        return page("Statistics", st ? table(st) : NOT_RUNNING, 5);
      }
      return new Response("not found", { status: 404 });
    },
  });
  const base = `http://127.0.0.1:${server.port}${prefix}`;
  return {
    settingsUrl: `${base}/settings`,
    statisticsUrl: `${base}/statistics`,
    helpUrl: `${base}/help`,
    stop: () => void server.stop(true),
  };
}

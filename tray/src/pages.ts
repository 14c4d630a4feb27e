// The tray's two local pages, "Settings…" and "Statistics…": a loopback HTTP server on a random port
// with a random path prefix (so other local users and web pages cannot drive it), opened in the browser.
import { randomBytes } from "node:crypto";

export interface PagesBackend {
  /** GET /status, or null when the worker is not running. */
  status(): Promise<Record<string, unknown> | null>;
  /** GET /stats, or null when the worker is not running. */
  stats(): Promise<Record<string, unknown> | null>;
  setMode(mode: string): Promise<void>;
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
const MODES = ["conservative", "default", "aggressive"] as const;

export function servePages(b: PagesBackend): PagesServer {
  const prefix = `/${randomBytes(16).toString("hex")}`;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname === `${prefix}/settings` && req.method === "POST") {
        const mode = String((await req.formData()).get("mode") ?? "");
        let note = "saved";
        try {
          await b.setMode(mode);
        } catch (e) {
          note = (e as Error).message;
        }
        return new Response(null, { status: 303, headers: { location: `${prefix}/settings?note=${encodeURIComponent(note)}` } });
      }
      if (pathname === `${prefix}/settings`) {
        const s = await b.status();
        const note = new URL(req.url).searchParams.get("note");
        const current = String(s?.mode ?? "default");
        const form = s
          ? `<form method="post"><p>Resource mode (how much of this computer the worker may use):</p>${MODES.map(
              (m) => `<label><input type="radio" name="mode" value="${m}"${m === current ? " checked" : ""}> ${m}</label><br>`,
            ).join("")}<p><button>Save</button>${note ? ` <i>${esc(note)}</i>` : ""}</p></form>`
          : NOT_RUNNING;
        return page(
          "Settings",
          `${form}<h2>Files</h2>${table({ "config file (other settings)": b.configFile, logs: b.logDir })}${s ? `<h2>Worker</h2>${table(s)}` : ""}`,
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

// The dashboard's two HTML pages: sign-in and the app shell (data arrives later as JSON).
import { MIN_PASSWORD_LENGTH, PASSWORD_COMMAND } from "./auth.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** Only our own origin: no inline script, no CDN, no frames. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function head(title: string, extra = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/dashboard/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/assets/app.css">${extra}
</head>`;
}

export type LoginNotice = { kind: "error" | "info"; text: string } | null;

/** The sign-in page; without a password set, it says how to set one instead of showing the form. */
export function loginPage(opts: { gridName: string; passwordSet: boolean; notice: LoginNotice }): string {
  const notice = opts.notice ? `<p class="notice ${opts.notice.kind}" role="alert">${escapeHtml(opts.notice.text)}</p>` : "";
  const body = opts.passwordSet
    ? `<form method="post" action="/dashboard/login" class="login-form">
  <label for="password">Admin password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
  <button type="submit">Sign in</button>
</form>`
    : `<div class="setup">
  <p>No dashboard password has been set for this coordinator yet. On the coordinator host, run:</p>
  <pre><code>${escapeHtml(PASSWORD_COMMAND)} --data-dir &lt;the coordinator's data dir&gt;</code></pre>
  <p>It asks for a password (at least ${MIN_PASSWORD_LENGTH} characters) and stores only its argon2id hash. Then reload this page.</p>
</div>`;
  return `${head(`Sign in · ${opts.gridName}`)}
<body class="login-page">
<main class="login-card">
  <h1><span class="logo" aria-hidden="true"></span>GoGrid</h1>
  <p class="subtitle">${escapeHtml(opts.gridName)} · operator dashboard</p>
  ${notice}
  ${body}
</main>
</body>
</html>
`;
}

const card = (id: string, label: string, sub = "") =>
  `<div class="card" id="card-${id}"><div class="card-label">${label}</div><div class="card-value" data-value>–</div><div class="card-sub" data-sub>${sub}</div></div>`;

/** The signed-in page: layout only; assets/app.js fills it from /dashboard/api/* every 2 s. */
export function appPage(opts: { gridName: string; currency: string }): string {
  const extra = `
<link rel="stylesheet" href="/dashboard/assets/uplot.min.css">
<script src="/dashboard/assets/uplot.min.js" defer></script>
<script src="/dashboard/assets/app.js" defer></script>`;
  return `${head(`${opts.gridName} · GoGrid dashboard`, extra)}
<body class="app" data-currency="${escapeHtml(opts.currency)}">
<header class="topbar">
  <div class="brand"><span class="logo" aria-hidden="true"></span>GoGrid<span class="grid-name">${escapeHtml(opts.gridName)}</span></div>
  <div class="live" id="live" data-state="connecting"><span class="dot" aria-hidden="true"></span><span id="live-text">connecting…</span></div>
  <form method="post" action="/dashboard/logout"><button type="submit" class="ghost" id="logout">Log out</button></form>
</header>
<main class="content">
  <section class="cards" aria-label="Overview">
    ${card("online", "Online")}
    ${card("busy", "Busy")}
    ${card("paused", "Paused")}
    ${card("throttled", "Throttled")}
    ${card("jpm", "Jobs / min", "last 10 min")}
    ${card("tps", "Tokens / s", "last minute")}
    ${card("queue", "Queue depth")}
    ${card("earned", "Earned today", "UTC day")}
  </section>
  <section class="charts">
    <div class="panel"><div class="panel-head"><h2>Earnings per day</h2><span class="hint" id="earnings-hint">last 30 days, UTC</span></div><div class="chart" id="chart-earnings"></div></div>
    <div class="panel"><div class="panel-head"><h2>Throughput</h2><span class="hint" id="throughput-hint">tokens per minute, last 60 min</span></div><div class="chart" id="chart-throughput"></div></div>
  </section>
  <section class="panel">
    <div class="panel-head"><h2>Workers</h2><span class="hint" id="workers-hint"></span></div>
    <div class="table-wrap"><table id="workers">
      <thead><tr><th>Node</th><th>Name</th><th>GPU</th><th>Backend</th><th>Mode</th><th>Status</th><th>Last heartbeat</th><th class="num">Jobs</th><th class="num">Earnings</th><th class="num">Trust</th></tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
  <section class="panel">
    <div class="panel-head"><h2>Recent jobs</h2><span class="hint" id="jobs-hint"></span></div>
    <div class="table-wrap"><table id="jobs">
      <thead><tr><th>Job</th><th>Status</th><th>Model</th><th>Created</th><th class="num">Latency</th><th>Worker</th><th class="num">Tokens in</th><th class="num">Tokens out</th><th class="num">Retries</th><th>Error</th></tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
</main>
</body>
</html>
`;
}

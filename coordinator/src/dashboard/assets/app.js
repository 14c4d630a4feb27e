// GoGrid dashboard: polls /dashboard/api/* every 2 s and renders cards, charts and tables.
// Every value goes into the page as text (textContent or DOM text nodes), never parsed as HTML.
(() => {
  const REFRESH_MS = 2000;
  const CHART_HEIGHT = 170;
  const num = new Intl.NumberFormat("en-US");
  const num1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });

  // ---- formatting ----
  const fmtInt = (n) => (n === null || n === undefined ? "–" : num.format(n));
  const fmtRate = (n) => (n >= 100 ? num.format(Math.round(n)) : num1.format(n));
  const currency = document.body.dataset.currency || "USD";
  const moneyFmts = [2, 4, 6].map(
    (digits) => new Intl.NumberFormat("en-US", { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: digits }),
  );
  /** Micro-units → "$12.34", "$0.0123", "$0.000064": small amounts keep their significant digits. */
  function fmtMoney(micros) {
    const units = micros / 1e6;
    const fmt = units === 0 || units >= 1 ? moneyFmts[0] : units >= 0.01 ? moneyFmts[1] : moneyFmts[2];
    return fmt.format(units);
  }
  function fmtDuration(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
    const m = Math.floor(ms / 60_000);
    return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
  }
  function fmtAgo(at, t) {
    if (t === null || t === undefined) return "never";
    const s = Math.max(0, Math.round((at - t) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
    return new Date(t).toISOString().slice(0, 10);
  }
  const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;
  const hhmm = (s) => timeFmt.format(new Date(s * 1e3)).slice(0, 5);
  const shortId = (id) => (id ? id.slice(0, 8) : "–");

  // ---- DOM helpers ----
  const $ = (id) => document.getElementById(id);
  function el(tag, opts, ...children) {
    const e = document.createElement(tag);
    if (opts?.cls) e.className = opts.cls;
    if (opts?.title) e.title = opts.title;
    for (const c of children) e.append(c === null || c === undefined ? "" : c);
    return e;
  }
  const td = (text, cls, title) => el("td", { cls, title }, String(text));
  const pill = (status) => el("span", { cls: `pill s-${status}` }, status);

  function setCard(id, value, sub) {
    const card = $(`card-${id}`);
    if (!card) return;
    card.querySelector("[data-value]").textContent = value;
    if (sub !== undefined) card.querySelector("[data-sub]").textContent = sub;
  }

  // ---- overview ----
  function renderOverview(o) {
    const w = o.workers;
    const connected = w.online + w.idle + w.busy + w.paused + w.throttled;
    setCard("online", fmtInt(connected), `${fmtInt(w.idle)} idle · ${fmtInt(w.total)} enrolled`);
    setCard("busy", fmtInt(w.busy), connected > 0 ? `${Math.round((100 * w.busy) / connected)}% of online` : "none online");
    setCard("paused", fmtInt(w.paused), "owner or operator");
    setCard("throttled", fmtInt(w.throttled), "machine in use");
    setCard("jpm", fmtRate(o.jobsPerMinute));
    setCard("tps", fmtRate(o.tokensPerSecond));
    setCard("queue", fmtInt(o.queueDepth), `${fmtInt(o.running)} running`);
    setCard(
      "earned",
      fmtMoney(o.earnings.todayMicros),
      `${fmtMoney(o.earnings.totalMicros)} in total, ${plural(o.earnings.totalJobs, "job")}`,
    );
    $("card-queue").classList.toggle("warn", o.queueDepth > 0 && connected === 0);
  }

  // ---- tables ----
  function emptyRow(cols, text) {
    const cell = el("td", { cls: "empty" }, text);
    cell.colSpan = cols;
    return el("tr", null, cell);
  }

  function quarantineBadge(w) {
    const badge = pill("quarantined");
    badge.title = `since ${new Date(w.quarantinedAt).toISOString()}: ${w.quarantineReason ?? "low trust"} (gogrid-admin workers release ${w.nodeId})`;
    return badge;
  }

  function renderWorkers(r) {
    const rows = r.workers.map((w) => {
      const tr = el(
        "tr",
        { cls: `w-${w.status}` },
        td(shortId(w.nodeId), "mono", w.nodeId),
        td(w.name ?? "–"),
        td(w.gpu ? (w.vramMb ? `${w.gpu} · ${num.format(Math.round(w.vramMb / 1024))} GB` : w.gpu) : "–"),
        td(w.backend ?? "–"),
        td(w.mode ?? "–"),
        el("td", null, pill(w.status), ...(w.quarantinedAt !== null && w.status !== "revoked" ? [" ", quarantineBadge(w)] : [])),
        td(fmtAgo(r.at, w.lastHeartbeatAt), null, w.lastHeartbeatAt ? new Date(w.lastHeartbeatAt).toISOString() : ""),
        td(fmtInt(w.jobsCompleted), "num"),
        td(fmtMoney(w.earningsMicros), "num"),
        td(num1.format(w.trust), "num"),
      );
      tr.dataset.node = w.nodeId;
      return tr;
    });
    $("workers").tBodies[0].replaceChildren(
      ...(rows.length ? rows : [emptyRow(10, "No workers enrolled yet: create a token with gogrid-admin tokens create")]),
    );
    const online = r.workers.filter((w) => w.status !== "offline" && w.status !== "revoked").length;
    const quarantined = r.workers.filter((w) => w.quarantinedAt !== null && w.status !== "revoked").length;
    $("workers-hint").textContent = `${online} online of ${r.workers.length}${quarantined ? ` · ${quarantined} quarantined` : ""}`;
  }

  function renderJobs(r) {
    const rows = r.jobs.map((j) => {
      const tr = el(
        "tr",
        null,
        td(shortId(j.id), "mono", j.id),
        el(
          "td",
          null,
          pill(j.status),
          ...(j.purpose !== "client"
            ? [" ", el("span", { cls: "pill", title: "the coordinator's own check, not a client's job" }, j.purpose)]
            : []),
        ),
        td(j.model),
        td(timeFmt.format(new Date(j.createdAt)), null, new Date(j.createdAt).toISOString()),
        td(fmtDuration(j.latencyMs), "num"),
        td(j.worker ?? shortId(j.workerId), j.worker ? null : "mono", j.workerId ?? ""),
        td(fmtInt(j.promptTokens), "num"),
        td(fmtInt(j.completionTokens), "num"),
        td(fmtInt(j.retries), j.retries > 0 ? "num warn-text" : "num"),
        td(j.error ?? "", "error-text", j.error ?? ""),
      );
      tr.dataset.job = j.id;
      return tr;
    });
    $("jobs").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(10, "No jobs yet")]));
    $("jobs-hint").textContent = r.jobs.length ? `latest ${r.jobs.length}` : "";
  }

  // ---- charts (uPlot) ----
  const charts = {};
  const utcDate = (ts) => window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  const axisStyle = {
    stroke: "#64748b",
    grid: { stroke: "#eef1f5", width: 1 },
    ticks: { stroke: "#e2e8f0", width: 1, size: 4 },
    font: "11px system-ui, sans-serif",
  };

  function makeChart(id, series, opts) {
    const target = $(id);
    const u = new window.uPlot(
      {
        width: Math.max(200, target.clientWidth),
        height: CHART_HEIGHT,
        legend: { show: true, live: true },
        cursor: { points: { size: 6 } },
        scales: opts.scales,
        ...(opts.tzDate ? { tzDate: opts.tzDate } : {}),
        axes: [
          { ...axisStyle, size: 30, ...(opts.xValues ? { values: opts.xValues } : {}) },
          { ...axisStyle, size: 64, values: (_u, splits) => splits.map(opts.yFormat) },
        ],
        series: [{ label: opts.xLabel, value: opts.xLegend }, series],
      },
      [[], []],
      target,
    );
    charts[id] = u;
    return u;
  }

  function earningsChart(days) {
    const u =
      charts["chart-earnings"] ??
      makeChart(
        "chart-earnings",
        {
          label: "Earned",
          stroke: "#16a34a",
          fill: "rgba(34,197,94,0.55)",
          width: 0,
          paths: window.uPlot.paths.bars({ size: [0.7, 28], align: 0 }),
          points: { show: false },
          value: (_u, v) => (v === null ? "–" : fmtMoney(v * 1e6)),
        },
        {
          xLabel: "Day",
          tzDate: utcDate,
          xValues: (_u, splits) => splits.map((s) => dayFmt.format(new Date(s * 1e3))),
          xLegend: (_u, v) => (v === null ? "–" : dayFmt.format(new Date(v * 1e3))),
          yFormat: (v) => fmtMoney(v * 1e6),
          scales: {
            x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] },
            y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1e-4] },
          },
        },
      );
    u.setData([days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000), days.map((d) => d.amountMicros / 1e6)]);
  }

  function throughputChart(minutes) {
    const u =
      charts["chart-throughput"] ??
      makeChart(
        "chart-throughput",
        {
          label: "Tokens / min",
          stroke: "#2563eb",
          fill: "rgba(37,99,235,0.12)",
          width: 2,
          points: { show: false },
          value: (_u, v) => (v === null ? "–" : fmtInt(v)),
        },
        {
          xLabel: "Minute",
          xValues: (_u, splits) => splits.map(hhmm),
          xLegend: (_u, v) => (v === null ? "–" : hhmm(v)),
          yFormat: (v) => fmtInt(v),
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 10] } },
        },
      );
    u.setData([minutes.map((m) => m.t / 1000), minutes.map((m) => m.tokens)]);
  }

  function resizeCharts() {
    for (const [id, u] of Object.entries(charts)) u.setSize({ width: Math.max(200, $(id).clientWidth), height: CHART_HEIGHT });
  }

  // ---- polling ----
  let failures = 0;
  let ticks = 0;
  function setLive(state, text) {
    $("live").dataset.state = state;
    $("live-text").textContent = text;
  }

  async function getJson(path) {
    const res = await fetch(`/dashboard/api/${path}`, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (res.status === 401) {
      window.location.reload(); // the session ended: the server shows the sign-in page
      throw new Error("signed out");
    }
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  async function refresh() {
    const withEarnings = ticks++ % 5 === 0; // per-day figures change slowly: every 10 s
    const [overview, workers, jobs, throughput, earnings] = await Promise.all([
      getJson("overview"),
      getJson("workers"),
      getJson("jobs"),
      getJson("throughput"),
      withEarnings ? getJson("earnings") : Promise.resolve(null),
    ]);
    renderOverview(overview);
    renderWorkers(workers);
    renderJobs(jobs);
    throughputChart(throughput.minutes);
    if (earnings) earningsChart(earnings.days);
    document.body.dataset.loaded = "true";
  }

  async function loop() {
    try {
      await refresh();
      failures = 0;
      setLive("ok", `live · updated ${timeFmt.format(new Date())}`);
    } catch (e) {
      failures++;
      ticks = 0; // fetch the earnings again with the next success
      setLive("error", `connection problem (${e.message}); retrying`);
    }
    setTimeout(loop, failures > 3 ? REFRESH_MS * 3 : REFRESH_MS);
  }

  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resizeCharts, 100);
  });
  document.addEventListener("DOMContentLoaded", loop);
})();

// Pure mapping from the worker's GET /status answer to what the tray shows: icon, tooltip, menu.

/** The body of the worker control API's GET /status (worker/src/daemon.ts controlHandlers). */
export interface WorkerStatus {
  state: "connecting" | "connected" | "disconnected" | "refused";
  status: "idle" | "busy" | "paused" | "throttled";
  node_id?: string;
  coordinator?: string;
  mode?: string;
  backend?: string;
  jobs_running?: number;
  jobs_completed?: number;
  earned_today?: string | number;
  currency?: string;
  /** Why it is not taking jobs, as a clause ("a full-screen application is running"). */
  status_reason?: string | null;
}

export type IconName = "green" | "yellow" | "red" | "grey" | "sleep";

export interface TrayView {
  icon: IconName;
  tooltip: string;
  statusLine: string;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** `status` null means the worker is not running (no control endpoint, or it did not answer). */
export function trayState(status: WorkerStatus | null): TrayView {
  const view = (icon: IconName, statusLine: string): TrayView => ({ icon, statusLine, tooltip: `GoGrid: ${statusLine}` });
  if (status === null) return view("red", "Worker not running");
  switch (status.state) {
    case "connecting":
      return view("grey", "Connecting to the coordinator…");
    case "disconnected":
      return view("red", "Disconnected from the coordinator");
    case "refused":
      return view("red", "Refused by the coordinator");
    case "connected":
      switch (status.status) {
        case "busy":
          return view("green", `Connected, processing ${plural(status.jobs_running ?? 1, "job")}`);
        case "idle":
          return view("yellow", "Connected, idle (waiting for jobs)");
        case "paused":
          return view("yellow", "Paused");
        case "throttled":
          return view("sleep", `Paused while ${status.status_reason || "this computer is in use"}`);
      }
  }
  return view("red", `Unknown worker state ${JSON.stringify(status.state)}`);
}

export type MenuKey =
  | "status"
  | "mode"
  | "jobs"
  | "earned"
  | "start"
  | "settings"
  | "statistics"
  | "pauseResume"
  | "restart"
  | "dashboard"
  | "logs"
  | "help"
  | "quit"
  | "separator";

export interface MenuEntry {
  key: MenuKey;
  title: string;
  enabled: boolean;
  hidden: boolean;
}

/** "1.5" USD → "$1.50"; unknown currency codes fall back to "1.50 XYZ". */
export function formatMoney(amount: string | number | undefined, currency = "USD"): string {
  const n = Number(amount ?? 0);
  const value = Number.isFinite(n) ? n : 0;
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The tray menu, always the same entries in the same order (the tray helper updates items in place), with
 * `hidden` marking those that do not apply now. Separators have key "separator".
 */
export function menuItems(status: WorkerStatus | null): MenuEntry[] {
  const running = status !== null;
  const paused = running && status.status === "paused";
  const item = (key: MenuKey, title: string, enabled = true, hidden = false): MenuEntry => ({ key, title, enabled, hidden });
  const sep = item("separator", "<SEPARATOR>");
  return [
    item("status", trayState(status).statusLine, false),
    item("mode", `Mode: ${capitalise(status?.mode ?? "default")}`, false, !running),
    item("jobs", `Jobs processed today: ${status?.jobs_completed ?? 0}`, false, !running),
    item("earned", `Earned today: ${formatMoney(status?.earned_today, status?.currency)}`, false, !running),
    sep,
    item("start", "Start Worker", true, running),
    item("settings", "Settings…"),
    item("statistics", "Statistics…", running),
    item("pauseResume", paused ? "Resume Worker" : "Pause Worker", running, !running),
    item("restart", "Restart Worker", running, !running),
    sep,
    item("dashboard", "Open Dashboard (web)"),
    item("logs", "View Logs"),
    item("help", "Help & Support"),
    sep,
    item("quit", "Quit GoGrid"),
  ];
}

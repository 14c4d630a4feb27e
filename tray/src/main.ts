#!/usr/bin/env bun
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import SysTrayImport, { type ClickEvent, type MenuItem } from "systray2";
// The GoGrid tray icon: polls the local worker's control API and shows its state as an icon and menu.
//   bun tray/src/main.ts [--control <endpoint>]
import systrayPkg from "systray2/package.json" with { type: "json" };
import { isCompiledBinary } from "../../native/src/compiled.ts";
import { loadWorkerConfig, setConfigValue } from "../../worker/src/config.ts";
import { ControlUnavailableError, controlRequest } from "../../worker/src/control.ts";
import { workerPaths } from "../../worker/src/paths.ts";
import { isAutostartEnabled, setAutostart } from "./autostart.ts";
import { HELPER_NAMES } from "./helper-names.ts";
import { changeMessage, systemNotifier } from "./notify.ts";
import { type PagesServer, servePages } from "./pages.ts";
import { type IconName, type MenuEntry, type MenuKey, menuItems, trayState, type WorkerStatus } from "./state.ts";

// systray2 is CommonJS with `exports.default`; under Bun the default import may be the module object.
const SysTray: typeof SysTrayImport = (SysTrayImport as unknown as { default?: typeof SysTrayImport }).default ?? SysTrayImport;

const HELP = `Usage: gogrid-tray [options]

The GoGrid tray icon: shows the local worker's state and controls it.

Options:
  --control <endpoint>  the worker's control endpoint (default: ${workerPaths().controlEndpoint})
  --interval <ms>       how often to poll the worker (default: 2000)
  --debug               log every state change and click to stdout
  -h, --help            show this help
`;

/** A help page of the operator's, when they have one; otherwise the tray's own local help page. */
export const HELP_URL = process.env.GOGRID_HELP_URL ?? null;
const ICON_DIR = join(import.meta.dir, "..", "icons");

/** Inside a compiled gogrid-tray: the helper and icons embedded by scripts/build.ts. */
let embedded: { helper: string; icons: Record<string, string> } | null = null;
export function registerTrayAssets(assets: { helper: string; icons: Record<string, string> }): void {
  embedded = assets;
}
const REQUEST_TIMEOUT_MS = 1500;

export function iconFile(name: IconName, platform = process.platform): string {
  // macOS: the coloured icon, since the colour is the state (the *-template.png variants lose it).
  const file = platform === "win32" ? `${name}.ico` : platform === "darwin" ? `${name}-32.png` : `${name}-64.png`;
  return embedded?.icons[file] || join(ICON_DIR, file);
}

/** Opens a URL or file with the desktop's default handler. GOGRID_TRAY_OPEN replaces it (tests). */
export function openExternal(target: string): void {
  const override = process.env.GOGRID_TRAY_OPEN;
  const [cmd, ...args] = override
    ? [override, target]
    : process.platform === "darwin"
      ? ["open", target]
      : process.platform === "win32"
        ? ["cmd", "/c", "start", '""', target]
        : ["xdg-open", target];
  try {
    spawn(cmd!, args, { detached: true, stdio: "ignore", windowsHide: true })
      .on("error", (e) => console.error(`cannot open ${target}: ${e.message}`))
      .unref();
  } catch (e) {
    console.error(`cannot open ${target}: ${(e as Error).message}`);
  }
}

/** How to start this tray again at login: the compiled binary, or bun with this file. */
export function trayCommand(): string[] {
  if (!isCompiledBinary()) return [process.execPath, join(import.meta.dir, "main.ts")];
  // the standalone gogrid-tray, or the worker binary that is also the tray (`gogrid-worker tray`)
  return basename(process.execPath).startsWith("gogrid-tray") ? [process.execPath] : [process.execPath, "tray"];
}

/** `gogrid-worker run` when installed, else the dev checkout's worker. */
export function workerCommand(): string[] {
  const installed = Bun.which("gogrid-worker");
  if (installed) return [installed, "run"];
  const dev = join(import.meta.dir, "..", "..", "worker", "src", "main.ts");
  return [process.execPath, dev, "run"];
}

/**
 * systray2 ships its helper without the executable bit and its own chmod("+x") is a no-op, and the file in
 * node_modules is hard-linked into Bun's shared cache, so we never chmod it in place: we copy it into our
 * cache folder, executable, and point systray2's `copyDir` there (it uses `<copyDir>/<version>/<name>`).
 */
export function prepareHelper(env = process.env): { copyDir: string; binPath: string } | null {
  const name = HELPER_NAMES[process.platform];
  if (!name) return null;
  // systray2 looks for <copyDir>/<its version>/<name>; the version is bundled with it
  const version = systrayPkg.version;
  const src = embedded ? embedded.helper : join(dirname(Bun.resolveSync("systray2/package.json", import.meta.dir)), "traybin", name);
  const home = env.HOME ?? homedir();
  const copyDir =
    process.platform === "darwin"
      ? join(home, "Library", "Caches", "GoGrid", "tray-helper")
      : process.platform === "win32"
        ? join(env.LOCALAPPDATA ?? join(home, "AppData", "Local"), "GoGrid", "tray-helper")
        : join(env.XDG_CACHE_HOME ?? join(home, ".cache"), "gogrid", "tray-helper");
  const binPath = join(copyDir, version, name);
  const size = embedded ? Bun.file(src).size : statSync(src).size;
  if (!existsSync(binPath) || statSync(binPath).size !== size) {
    mkdirSync(dirname(binPath), { recursive: true });
    // an embedded ($bunfs) file is read, not copied
    if (embedded) writeFileSync(binPath, readFileSync(src));
    else copyFileSync(src, binPath);
  }
  if (process.platform !== "win32") chmodSync(binPath, 0o755);
  return { copyDir, binPath };
}

/** On Linux the tray helper needs libappindicator3.so.1; returns a message when it is missing. */
export function missingLinuxDeps(binPath: string): string | null {
  if (process.platform !== "linux") return null;
  const r = spawnSync("ldd", [binPath], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout) return null; // cannot tell: let the helper try
  const missing = r.stdout
    .split("\n")
    .filter((l) => l.includes("=> not found"))
    .map((l) => l.trim().split(" ")[0]!);
  if (missing.length === 0) return null;
  const hint = missing.some((l) => l.startsWith("libappindicator3"))
    ? "install it with `sudo apt-get install libayatana-appindicator3-1` (Debian/Ubuntu; Fedora: libappindicator-gtk3)"
    : "install the packages that provide them";
  return `the GoGrid tray cannot start: missing ${missing.join(", ")}; ${hint}`;
}

type TrayItem = MenuItem & { key: MenuKey };

export async function runTray(opts: { control: string; intervalMs: number; debug: boolean; helperDir?: string }): Promise<void> {
  const { control } = opts;
  const log = (...a: unknown[]) => opts.debug && console.log(...a);
  const paths = workerPaths();
  const call = (method: string, path: string, body?: unknown) =>
    controlRequest(control, method, path, body, { timeoutMs: REQUEST_TIMEOUT_MS });
  const getStatus = async (): Promise<WorkerStatus | null> => {
    try {
      return (await call("GET", "/status")) as WorkerStatus;
    } catch (e) {
      if (!(e instanceof ControlUnavailableError)) log(`status: ${(e as Error).message}`);
      return null;
    }
  };

  let status = await getStatus();
  const entries = menuItems(status);
  const items: TrayItem[] = entries.map((e) => ({ key: e.key, title: e.title, tooltip: "", enabled: e.enabled, hidden: e.hidden }));
  let view = trayState(status);
  const tray = new SysTray({
    menu: { icon: iconFile(view.icon), title: "", tooltip: view.tooltip, items },
    debug: false,
    copyDir: opts.helperDir ?? false,
  });
  let quitting = false;
  try {
    await tray.ready();
  } catch (e) {
    console.error(`the tray helper did not start: ${(e as Error).message}`);
    process.exit(1);
  }
  tray.onError((e) => {
    console.error(`the tray helper failed: ${e.message}`);
    process.exit(1);
  });
  tray.onExit((code, signal) => {
    if (!quitting) {
      console.error(`the tray helper exited (${signal ?? `code ${code}`})`);
      process.exit(1);
    }
  });
  log(`tray: icon=${view.icon} status=${JSON.stringify(view.statusLine)}`);

  let pages: PagesServer | null = null;
  const pagesServer = () => {
    pages ??= servePages({
      status: async () => (await getStatus()) as Record<string, unknown> | null,
      stats: async () => {
        try {
          return (await call("GET", "/stats")) as Record<string, unknown>;
        } catch {
          return null;
        }
      },
      setMode: async (mode) => void (await call("PUT", "/mode", { mode })),
      setThrottling: async (enabled) => void (await call("PUT", "/throttling", { enabled })),
      notifications: notificationsOn,
      setNotifications: (enabled) => setConfigValue(paths.configFile, "tray", "notifications", enabled),
      startAtLogin: () => isAutostartEnabled(),
      setStartAtLogin: (enabled) => setAutostart(enabled, trayCommand()),
      configFile: paths.configFile,
      logDir: paths.logDir,
    });
    return pages;
  };

  const notify = systemNotifier();
  const notificationsOn = (): boolean => {
    try {
      return loadWorkerConfig(paths.configFile).tray.notifications;
    } catch {
      return true;
    }
  };

  const apply = async (next: WorkerStatus | null) => {
    status = next;
    const nextView = trayState(next);
    const nextEntries: MenuEntry[] = menuItems(next);
    for (const [i, e] of nextEntries.entries()) {
      const it = items[i]!;
      if (it.title === e.title && it.enabled === e.enabled && it.hidden === e.hidden) continue;
      Object.assign(it, { title: e.title, enabled: e.enabled, hidden: e.hidden });
      await tray.sendAction({ type: "update-item", item: it });
      log(`menu: ${e.key}=${JSON.stringify(e.hidden ? null : e.title)}`);
    }
    const message = changeMessage(view.icon, nextView.icon);
    if (message && notificationsOn()) notify("GoGrid", message);
    if (nextView.icon !== view.icon || nextView.tooltip !== view.tooltip) {
      await tray.sendAction({ type: "update-menu", menu: { icon: iconFile(nextView.icon), title: "", tooltip: nextView.tooltip, items } });
      log(`tray: icon=${nextView.icon} status=${JSON.stringify(nextView.statusLine)}`);
    }
    view = nextView;
  };

  let polling = false;
  const refresh = async () => {
    if (polling) return;
    polling = true;
    try {
      await apply(await getStatus());
    } catch (e) {
      console.error(`tray update failed: ${(e as Error).message}`);
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(refresh, opts.intervalMs);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      console.error(`${what} failed: ${(e as Error).message}`);
    }
    await refresh();
  };

  const dashboardUrl = (): string => {
    try {
      const api = loadWorkerConfig(paths.configFile).server.api_url;
      if (api) return `${api.replace(/\/+$/, "")}/dashboard`;
    } catch {}
    return HELP_URL ?? pagesServer().helpUrl;
  };

  const onClick: Record<MenuKey, () => Promise<void> | void> = {
    status: () => {},
    mode: () => {},
    jobs: () => {},
    earned: () => {},
    separator: () => {},
    start: () =>
      act("starting the worker", async () => {
        const [cmd, ...args] = workerCommand();
        log(`starting ${[cmd, ...args].join(" ")}`);
        spawn(cmd!, args, { detached: true, stdio: "ignore", windowsHide: true }).unref();
        await Bun.sleep(1500);
      }),
    settings: () => openExternal(pagesServer().settingsUrl),
    statistics: () => openExternal(pagesServer().statisticsUrl),
    pauseResume: () => act("pause/resume", () => (status?.status === "paused" ? call("POST", "/resume") : call("POST", "/pause", {}))),
    restart: () => act("restart", () => call("POST", "/restart")),
    dashboard: () => openExternal(dashboardUrl()),
    logs: async () => {
      let target = paths.logDir;
      try {
        target = ((await call("GET", "/logs")) as { path: string }).path;
      } catch {}
      openExternal(existsSync(target) ? target : paths.logDir);
    },
    help: () => openExternal(HELP_URL ?? pagesServer().helpUrl),
    quit: async () => {
      quitting = true;
      clearInterval(timer);
      pages?.stop();
      await tray.kill(false);
      process.exit(0);
    },
  };
  await tray.onClick((ev: ClickEvent) => {
    const key = (ev.item as TrayItem).key;
    log(`click: ${key}`);
    void onClick[key]?.();
  });

  const shutdown = () => {
    quitting = true;
    tray.process?.kill();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

/** The command line (also what a compiled gogrid-tray runs). */
export async function main(): Promise<void> {
  let values: { control?: string; interval?: string; debug?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        control: { type: "string" },
        interval: { type: "string" },
        debug: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const intervalMs = Number(values.interval ?? 2000);
  if (!Number.isFinite(intervalMs) || intervalMs < 100) {
    console.error(`--interval must be a number of milliseconds ≥ 100, got ${values.interval}`);
    process.exit(2);
  }
  let helper: ReturnType<typeof prepareHelper>;
  try {
    helper = prepareHelper();
  } catch (e) {
    console.error(`cannot prepare the tray helper: ${(e as Error).message}`);
    process.exit(1);
  }
  const missing = helper && missingLinuxDeps(helper.binPath);
  if (missing) {
    console.error(missing);
    process.exit(2);
  }
  if (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.error("the GoGrid tray needs a graphical session (DISPLAY or WAYLAND_DISPLAY is not set)");
    process.exit(2);
  }
  await runTray({
    control: values.control ?? workerPaths().controlEndpoint,
    intervalMs,
    debug: values.debug ?? false,
    ...(helper ? { helperDir: helper.copyDir } : {}),
  });
}

if (import.meta.main) await main();

// Which binary `run` starts: the installed release from versions/ when it is newer and intact, supervised for its trial.
import { existsSync } from "node:fs";
import { sha256File } from "./fetch-verified.ts";
import { rollBack } from "./install.ts";
import type { UpdateStore } from "./state.ts";

/** Set in the environment of a release started by the launcher, so it does not launch again. */
export const LAUNCHED_ENV = "GOGRID_LAUNCHED_BY";
/** Exit status that asks the supervisor (systemd, launchd, the Windows task loop) for a restart. */
export const RESTART_EXIT = 75;

export type LaunchTarget = { kind: "self" } | { kind: "release"; version: string; path: string };

type Log = (level: "info" | "warn" | "error", message: string) => void;

/** The newest intact release: versions/<current> when newer than this binary and its SHA-256 matches, else this binary. */
export async function resolveLaunch(store: UpdateStore, selfVersion: string, log: Log): Promise<LaunchTarget> {
  for (;;) {
    const s = store.read();
    if (!s.current || Bun.semver.order(s.current.version, selfVersion) <= 0) return { kind: "self" };
    const path = store.binaryPath(s.current.version);
    if (existsSync(path) && (await sha256File(path)) === s.current.sha256) return { kind: "release", version: s.current.version, path };
    log("warn", `installed release ${s.current.version} is missing or damaged: falling back`);
    if (s.pending?.version === s.current.version)
      rollBack(store, { code: "damaged", message: "the installed binary was missing or damaged" });
    else
      store.update((st) => {
        st.current = st.previous;
        st.previous = null;
      });
  }
}

/**
 * Runs the release as a child with this process's arguments and waits for it. If it dies or hangs before its
 * trial ends (it has not registered with the coordinator), it is rolled back here. Returns the exit status for
 * this process: the child's, or RESTART_EXIT after a rollback so the supervisor starts the previous release.
 */
export async function superviseRelease(
  store: UpdateStore,
  target: { version: string; path: string },
  o: { args: string[]; selfVersion: string; log: Log; graceMs?: number; pollMs?: number },
): Promise<number> {
  const child = Bun.spawn([target.path, ...o.args], {
    env: { ...process.env, [LAUNCHED_ENV]: o.selfVersion },
    stdio: ["inherit", "inherit", "inherit"],
  });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (["SIGTERM", "SIGINT", "SIGHUP"] as const).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  let hung = false;
  const watchdog = setInterval(() => {
    const p = store.read().pending;
    // trial over (it registered): nothing more to watch for the rest of its life
    if (p?.version !== target.version) return clearInterval(watchdog);
    if (Date.now() > p.deadline + (o.graceMs ?? 5000)) {
      hung = true;
      o.log("warn", `release ${target.version} did not finish its trial in time: stopping it`);
      child.kill("SIGKILL");
    }
  }, o.pollMs ?? 1000);
  const code = await child.exited;
  clearInterval(watchdog);
  for (const [sig, h] of handlers) process.off(sig, h);
  const p = store.read().pending;
  if (p?.version === target.version && (hung || code !== RESTART_EXIT)) {
    const message = hung
      ? "it did not register with the coordinator before its deadline"
      : `it exited (status ${child.signalCode ?? code}) before registering with the coordinator`;
    rollBack(store, { code: hung ? "health_check_timeout" : "crashed", message });
    o.log("warn", `release ${target.version} rolled back: ${message}`);
    return RESTART_EXIT;
  }
  return code;
}

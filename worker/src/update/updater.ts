// The worker's self-update: on update_available verify, stage, drain, install, restart; then a trial with rollback.
import { type ReleaseChannel, UpdateRefused } from "@gogrid/protocol/release";
import { checkForUpdate } from "./check.ts";
import type { FetchLike } from "./fetch-verified.ts";
import { installStaged, rollBack } from "./install.ts";
import { stageRelease } from "./stage.ts";
import type { UpdateReport, UpdateStore } from "./state.ts";

export interface UpdaterOptions {
  store: UpdateStore;
  enabled: () => boolean;
  channel: () => ReleaseChannel;
  version: string;
  platform: string;
  rootKeys: readonly string[];
  /** The running binary when it is a compiled worker (delta source; null = cannot self-update). */
  currentBinary: string | null;
  fetchImpl?: FetchLike;
  tls: () => BunFetchRequestInitTLS | undefined;
  /** Stop taking jobs and resolve when the running ones have finished. */
  drain: () => Promise<void>;
  /** Give up draining (the update failed): take jobs again. */
  undrain: () => void;
  restart: () => void;
  report: (r: UpdateReport) => void;
  log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  /** How long a new release has to register before it is rolled back (default 120 s). */
  trialMs?: number;
  now?: () => number;
}

export class Updater {
  private busy = false;
  private trialTimer: ReturnType<typeof setTimeout> | null = null;
  /** The last outcome, for the control API and tests. */
  last: { version: string; result: string; via?: string; bytes?: number } | null = null;

  constructor(private readonly o: UpdaterOptions) {}

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Why this worker cannot update itself, or null when it can. */
  blocker(): string | null {
    if (!this.o.enabled()) return "auto-update is off (enable_auto_update = false)";
    if (this.o.rootKeys.length === 0) return "this build carries no update root key";
    if (!this.o.currentBinary) return "self-update needs a compiled worker (this is a development run)";
    return null;
  }

  /** At start: a release on trial arms its deadline; missing it rolls back and restarts. */
  startTrial(): void {
    const p = this.o.store.read().pending;
    if (p?.version !== this.o.version) return;
    const left = Math.max(0, p.deadline - this.now());
    this.o.log("info", `release ${p.version} is on trial: it must register within ${Math.ceil(left / 1000)} s`);
    this.trialTimer = setTimeout(() => {
      if (this.o.store.read().pending?.version !== this.o.version) return;
      rollBack(this.o.store, { code: "health_check_timeout", message: "it did not register with the coordinator before its deadline" });
      this.o.log("warn", `release ${this.o.version} did not register in time: rolled back to ${p.from}`);
      this.o.restart();
    }, left);
  }

  /** After `welcome`: a release on trial passed it; an outcome waiting from before the restart is reported. */
  registered(): void {
    const s = this.o.store.read();
    if (s.pending?.version === this.o.version) {
      if (this.trialTimer) clearTimeout(this.trialTimer);
      this.trialTimer = null;
      const from = s.pending.from;
      this.o.store.update((st) => {
        st.pending = null;
        st.report = null;
      });
      this.o.log("info", `updated from ${from} to ${this.o.version}`);
      this.o.report({ version: this.o.version, previous_version: from, ok: true });
    } else if (s.report) {
      this.o.report(s.report);
      this.o.store.update((st) => {
        st.report = null;
      });
    }
  }

  stop(): void {
    if (this.trialTimer) clearTimeout(this.trialTimer);
  }

  /** `update_available`: returns the outcome ("installed" means a restart follows). */
  async offer(m: { version: string; channel: ReleaseChannel; manifest_url: string }): Promise<string> {
    if (this.busy) return "busy";
    const blocked = this.blocker();
    if (blocked) {
      this.o.log("info", `release ${m.version} is available; ${blocked}`);
      return "blocked";
    }
    if (m.channel !== this.o.channel()) return "other_channel";
    this.busy = true;
    let draining = false;
    try {
      const src = { fetchImpl: this.o.fetchImpl ?? (fetch as FetchLike), tls: this.o.tls() };
      const check = await checkForUpdate({
        ...src,
        manifestUrl: m.manifest_url,
        rootKeys: this.o.rootKeys,
        store: this.o.store,
        channel: this.o.channel(),
        platform: this.o.platform,
        currentVersion: this.o.version,
        now: this.now(),
      });
      if (check.kind !== "update") {
        this.o.log(
          check.kind === "known_bad" ? "info" : "debug",
          `release ${check.version}: ${check.kind === "known_bad" ? "failed here before; skipped" : "up to date"}`,
        );
        return check.kind;
      }
      this.o.log("info", `downloading release ${check.manifest.version} for ${this.o.platform}`);
      const staged = await stageRelease({
        ...src,
        store: this.o.store,
        manifest: check.manifest,
        build: check.build,
        base: check.base,
        currentVersion: this.o.version,
        currentBinary: this.o.currentBinary,
        log: this.o.log,
      });
      this.o.log(
        "info",
        `release ${staged.version} verified (${staged.via}, ${staged.downloadedBytes} bytes${staged.deltaSkipped ? `; no delta: ${staged.deltaSkipped}` : ""}); waiting for running jobs`,
      );
      draining = true;
      await this.o.drain();
      installStaged(this.o.store, staged, { runningVersion: this.o.version, trialMs: this.o.trialMs ?? 120_000, now: this.now() });
      this.last = { version: staged.version, result: "installed", via: staged.via, bytes: staged.downloadedBytes };
      this.o.log("info", `release ${staged.version} installed; restarting into it`);
      this.o.restart();
      return "installed";
    } catch (e) {
      if (draining) this.o.undrain();
      const code = e instanceof UpdateRefused ? e.code : "update_failed";
      const message = (e as Error).message;
      this.last = { version: m.version, result: code };
      this.o.log("warn", `update to ${m.version} refused: ${message}`);
      this.o.report({ version: m.version, previous_version: this.o.version, ok: false, error: { code, message: message.slice(0, 500) } });
      return code;
    } finally {
      this.busy = false;
    }
  }
}

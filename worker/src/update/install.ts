// Installing a staged release: one rename puts the binary in place, one atomic state write makes it current.
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import type { Staged } from "./stage.ts";
import type { UpdateState, UpdateStore } from "./state.ts";

/**
 * After this returns, the next start runs `staged.version` on trial: it must register within `trialMs`
 * or it is rolled back to what runs now. A crash at any point leaves the old release starting.
 */
export function installStaged(
  store: UpdateStore,
  staged: Staged,
  o: { runningVersion: string; trialMs: number; now: number },
): UpdateState {
  const target = store.binaryPath(staged.version);
  chmodSync(staged.path, 0o755);
  renameSync(staged.path, target);
  syncDir(store.versionDir(staged.version));
  const s = store.update((st) => {
    // what runs now becomes the fallback: a release from versions/, or (null) the packaged binary
    st.previous = st.current && st.current.version === o.runningVersion ? st.current : null;
    st.current = { version: staged.version, sha256: staged.sha256 };
    st.pending = { version: staged.version, from: o.runningVersion, deadline: o.now + o.trialMs, started_at: o.now };
    st.report = null;
  });
  prune(store, s);
  return s;
}

/** Drops installed releases other than the current and previous ones. */
export function prune(store: UpdateStore, s: UpdateState): void {
  const keep = new Set([s.current?.version, s.previous?.version].filter(Boolean));
  if (!existsSync(store.versionsDir)) return;
  for (const v of readdirSync(store.versionsDir)) if (!keep.has(v)) rmSync(store.versionDir(v), { recursive: true, force: true });
}

function syncDir(dir: string): void {
  if (process.platform === "win32") return;
  try {
    const fd = openSync(dir, "r");
    fsyncSync(fd);
    closeSync(fd);
  } catch {}
}

/**
 * The trial failed: the previous release becomes current again, the failed one is never installed again,
 * and the outcome waits to be reported after the next welcome.
 */
export function rollBack(store: UpdateStore, reason: { code: string; message: string }): UpdateState {
  const after = store.update((s) => {
    if (!s.pending) return;
    s.bad_versions = [...new Set([...s.bad_versions, s.pending.version])].slice(-32);
    s.report = { version: s.pending.version, previous_version: s.pending.from, ok: false, error: reason };
    s.current = s.previous;
    s.previous = null;
    s.pending = null;
  });
  prune(store, after);
  return after;
}

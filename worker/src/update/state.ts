// The updater's persisted state: what is installed, what is on trial, the highest versions seen. Written atomically.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../config.ts";

export interface InstalledRelease {
  version: string;
  sha256: string;
}

export interface UpdateReport {
  version: string;
  previous_version: string;
  ok: boolean;
  error?: { code: string; message: string };
}

export interface UpdateState {
  /** Never accept a manifest below this (rollback attack). */
  highest_version_seen: string | null;
  /** Never accept a key set below this (a replayed set could bring back a revoked key). */
  keyset_version: number;
  /** The release to run from versions/; null = the installed (packaged) binary. */
  current: InstalledRelease | null;
  /** Kept for rollback; null = the packaged binary. */
  previous: InstalledRelease | null;
  /** A release on trial: it must register with the coordinator before the deadline or it is rolled back. */
  pending: { version: string; from: string; deadline: number; started_at: number } | null;
  /** Releases that failed their trial here: never installed again. */
  bad_versions: string[];
  /** An outcome still to be sent as update_complete after the next welcome. */
  report: UpdateReport | null;
}

export const emptyState = (): UpdateState => ({
  highest_version_seen: null,
  keyset_version: 0,
  current: null,
  previous: null,
  pending: null,
  bad_versions: [],
  report: null,
});

export class UpdateStore {
  constructor(readonly dir: string) {}

  get file(): string {
    return join(this.dir, "state.json");
  }

  get versionsDir(): string {
    return join(this.dir, "versions");
  }

  versionDir(version: string): string {
    return join(this.versionsDir, version);
  }

  binaryPath(version: string, platform = process.platform): string {
    return join(this.versionDir(version), platform === "win32" ? "gogrid-worker.exe" : "gogrid-worker");
  }

  /** A damaged or missing file reads as the empty state: the packaged binary runs. */
  read(): UpdateState {
    if (!existsSync(this.file)) return emptyState();
    try {
      return { ...emptyState(), ...(JSON.parse(readFileSync(this.file, "utf8")) as Partial<UpdateState>) };
    } catch {
      return emptyState();
    }
  }

  /** Write to a temporary file, fsync, rename over: a crash leaves the old or the new state, never half. */
  write(s: UpdateState): void {
    writeFileAtomic(this.file, `${JSON.stringify(s, null, 2)}\n`, { fsync: true });
  }

  update(change: (s: UpdateState) => void): UpdateState {
    const s = this.read();
    change(s);
    this.write(s);
    return s;
  }
}

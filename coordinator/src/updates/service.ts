// Worker releases: serves the signed files from the releases folder and offers newer ones to connected workers.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { UpdateAvailableMessage } from "@gogrid/protocol";
import { inRollout, type ManifestBody, ManifestEnvelope, platformKey, type ReleaseChannel } from "@gogrid/protocol/release";
import { Value } from "@sinclair/typebox/value";

/** What the gateway knows of a connected worker that matters for updates. */
export interface UpdateTarget {
  nodeId: string;
  version: string;
  os: string;
  arch: string;
  channel: ReleaseChannel;
}

type Log = (level: "info" | "warn" | "error", message: string) => void;

const CHANNELS: ReleaseChannel[] = ["stable", "beta", "dev"];

export class ReleaseService {
  private manifests = new Map<ReleaseChannel, { body: ManifestBody; mtimeMs: number }>();
  private timer: ReturnType<typeof setInterval> | null = null;
  /** A damaged manifest file's mtime, so it is reported once, not at every poll. */
  private readonly damaged = new Map<ReleaseChannel, number>();

  constructor(
    private readonly o: {
      dir: string;
      /** https://<host>:<worker port>: where workers fetch /releases/… with their client certificate. */
      workerBaseUrl: () => string;
      log: Log;
    },
  ) {
    this.reload();
  }

  /** The manifest currently offered on a channel (its signed body), if any. */
  current(channel: ReleaseChannel): ManifestBody | null {
    return this.manifests.get(channel)?.body ?? null;
  }

  /** Reads the channel manifests that changed; returns the channels with a new release. */
  reload(): ReleaseChannel[] {
    const changed: ReleaseChannel[] = [];
    for (const channel of CHANNELS) {
      const file = join(this.o.dir, channel, "manifest.json");
      if (!existsSync(file)) {
        this.manifests.delete(channel);
        continue;
      }
      const mtimeMs = statSync(file).mtimeMs;
      const had = this.manifests.get(channel);
      if ((had && had.mtimeMs === mtimeMs) || this.damaged.get(channel) === mtimeMs) continue;
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, "utf8"));
      } catch {
        doc = null;
      }
      if (!Value.Check(ManifestEnvelope, doc)) {
        this.damaged.set(channel, mtimeMs);
        this.o.log("warn", `releases: ${file} is not a release manifest; still offering ${had ? had.body.version : "nothing"}`);
        continue;
      }
      const body = (doc as ManifestEnvelope).signed;
      this.manifests.set(channel, { body, mtimeMs });
      if (had?.body.version !== body.version || had.body.rollout_percent !== body.rollout_percent) {
        this.o.log("info", `releases: ${channel} ${body.version} (rollout ${body.rollout_percent}%)`);
        changed.push(channel);
      }
    }
    return changed;
  }

  /** Polls the folder; `onChange` gets the channels with a new or wider release. */
  watch(everyMs: number, onChange: (channels: ReleaseChannel[]) => void): void {
    this.timer = setInterval(() => {
      const c = this.reload();
      if (c.length > 0) onChange(c);
    }, everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * The update_available to send this worker, or null: a newer release on its channel with a build for its
   * platform, and the worker inside the staged rollout (or older than the release's minimum version).
   */
  offerFor(w: UpdateTarget): UpdateAvailableMessage | null {
    const m = this.current(w.channel);
    if (!m || Bun.semver.order(m.version, w.version) <= 0) return null;
    const plain = platformKey(w.os, w.arch);
    if (!m.platforms[plain] && !m.platforms[`${plain}-gpu`]) return null;
    const mustUpdate = Bun.semver.order(w.version, m.minimum_version) < 0;
    if (!mustUpdate && !inRollout(w.nodeId, m.version, m.rollout_percent)) return null;
    return {
      type: "update_available",
      version: m.version,
      channel: w.channel,
      manifest_url: `${this.o.workerBaseUrl()}/releases/${w.channel}/manifest.json`,
    };
  }

  /** GET /releases/<path> on the worker port: files inside the releases folder only. */
  serve(pathname: string): Response {
    const rel = decodeURIComponent(pathname.replace(/^\/releases\//, ""));
    if (!rel || rel.includes("\0")) return new Response("not found\n", { status: 404 });
    const root = resolve(this.o.dir);
    const file = resolve(root, rel);
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) return new Response("not found\n", { status: 404 });
    // a link inside the folder must not lead out of it
    if (!realpathSync(file).startsWith(realpathSync(root) + sep)) return new Response("not found\n", { status: 404 });
    const type = file.endsWith(".json") ? "application/json" : "application/octet-stream";
    return new Response(Bun.file(file), { headers: { "content-type": type, "cache-control": "no-cache" } });
  }
}

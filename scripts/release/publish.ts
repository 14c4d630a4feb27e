// Publishing a release: copies the built workers, makes VCDIFF deltas from the previous release, signs the manifest.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { isSemVer, type ManifestBody, type PlatformBuild, ReleaseChannel, signBody } from "../../protocol/src/release/index.ts";
import { sha256File } from "../../worker/src/update/fetch-verified.ts";
import { expiresIn, readHexKey } from "./keys.ts";

export interface PublishOptions {
  channel: string;
  version: string;
  releaseKeyFile: string;
  /** dist/bin: one folder per bun target holding gogrid-worker[-gpu][.exe]. */
  binDir: string;
  releases: string;
  expiresDays: number;
  minimumVersion?: string;
  rolloutPercent: number;
  deltas: boolean;
  now?: number;
}

export interface PublishedPlatform {
  platform: string;
  size: number;
  delta_size: number | null;
  delta_from: string | null;
}

/** The worker builds under dist/bin, keyed by platform (`linux-x64`, `windows-x64-gpu` ...). */
export function findBuilds(binDir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(binDir)) return out;
  for (const target of readdirSync(binDir)) {
    const m = /^bun-(linux|windows|darwin)-(x64|arm64)$/.exec(target);
    if (!m) continue;
    for (const [file, gpu] of [
      ["gogrid-worker", false],
      ["gogrid-worker-gpu", true],
    ] as const) {
      for (const name of [file, `${file}.exe`]) {
        const p = join(binDir, target, name);
        if (existsSync(p)) out.set(`${m[1]}-${m[2]}${gpu ? "-gpu" : ""}`, p);
      }
    }
  }
  return out;
}

export const manifestPath = (releases: string, channel: string) => join(releases, channel, "manifest.json");
const fileName = (platform: string) => (platform.startsWith("windows-") ? "gogrid-worker.exe" : "gogrid-worker");
const filePath = (releases: string, version: string, platform: string) => join(releases, "files", version, platform, fileName(platform));

export function xdelta3Available(): boolean {
  return Bun.which("xdelta3") !== null;
}

/** xdelta3 makes the delta (VCDIFF, RFC 3284, without xdelta's extensions so a plain decoder reads it). */
function makeDelta(from: string, to: string, out: string): void {
  const window = Math.max(statSync(from).size, statSync(to).size);
  const args = [
    "xdelta3",
    "-e",
    "-9",
    "-S",
    "none",
    "-n",
    "-A",
    "-f",
    "-B",
    String(Math.min(2 ** 31 - 1, Math.max(524_288, window))),
    "-s",
    from,
    to,
    out,
  ];
  const p = Bun.spawnSync(args, { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`xdelta3 failed: ${p.stderr.toString().trim()}`);
}

function checkRollout(percent: number): void {
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new Error(`--rollout ${percent} is not valid: a percentage from 1 to 100`);
  }
}

export async function publish(o: PublishOptions): Promise<{ manifest: ManifestBody; platforms: PublishedPlatform[] }> {
  if (!(ReleaseChannel.anyOf as { const: string }[]).some((c) => c.const === o.channel)) {
    throw new Error(`--channel "${o.channel}" is not valid: stable, beta or dev`);
  }
  if (!isSemVer(o.version)) throw new Error(`--version "${o.version}" is not a semantic version like 1.2.3`);
  checkRollout(o.rolloutPercent);
  const key = readHexKey(o.releaseKeyFile, "release secret key");
  const builds = findBuilds(o.binDir);
  if (builds.size === 0) throw new Error(`no worker builds under ${o.binDir} (run bun run build first)`);
  const mPath = manifestPath(o.releases, o.channel);
  const previous = existsSync(mPath) ? (JSON.parse(readFileSync(mPath, "utf8")) as { signed: ManifestBody }).signed : null;
  if (previous && Bun.semver.order(o.version, previous.version) <= 0) {
    throw new Error(`--version ${o.version} must be above ${previous.version}, the channel's current release`);
  }
  const platforms: Record<string, PlatformBuild> = {};
  const report: PublishedPlatform[] = [];
  const rel = (p: string) => relative(dirname(mPath), p).split("\\").join("/");
  for (const [platform, src] of [...builds].sort(([a], [b]) => a.localeCompare(b))) {
    const dest = filePath(o.releases, o.version, platform);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(src, `${dest}.partial`);
    renameSync(`${dest}.partial`, dest);
    const entry: PlatformBuild = { url: rel(dest), size: statSync(dest).size, sha256: await sha256File(dest) };
    const prevFile = previous ? filePath(o.releases, previous.version, platform) : null;
    let deltaSize: number | null = null;
    if (o.deltas && previous && prevFile && existsSync(prevFile) && previous.platforms[platform]) {
      const delta = join(dirname(dest), `from-${previous.version}.vcdiff`);
      makeDelta(prevFile, dest, delta);
      deltaSize = statSync(delta).size;
      entry.delta = {
        url: rel(delta),
        size: deltaSize,
        sha256: await sha256File(delta),
        from_version: previous.version,
        from_sha256: previous.platforms[platform].sha256,
        format: "vcdiff",
      };
    }
    platforms[platform] = entry;
    report.push({ platform, size: entry.size, delta_size: deltaSize, delta_from: deltaSize === null ? null : (previous?.version ?? null) });
  }
  const now = o.now ?? Date.now();
  const manifest: ManifestBody = {
    type: "gogrid-release",
    channel: o.channel as ManifestBody["channel"],
    version: o.version,
    released_at: new Date(now).toISOString(),
    expires: expiresIn(now, o.expiresDays),
    minimum_version: o.minimumVersion ?? previous?.minimum_version ?? "0.0.0",
    rollout_percent: o.rolloutPercent,
    platforms,
  };
  await writeSigned(mPath, manifest, key);
  return { manifest, platforms: report };
}

async function writeSigned(path: string, body: ManifestBody, key: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(await signBody(body, key), null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** Re-signs a channel's manifest: a wider rollout, or a later expiry so workers do not see it as frozen. */
export async function resign(o: {
  releases: string;
  channel: string;
  releaseKeyFile: string;
  rolloutPercent?: number;
  expiresDays?: number;
  now?: number;
}): Promise<ManifestBody> {
  const mPath = manifestPath(o.releases, o.channel);
  if (!existsSync(mPath)) throw new Error(`no manifest for channel "${o.channel}" at ${mPath}`);
  const body = (JSON.parse(readFileSync(mPath, "utf8")) as { signed: ManifestBody }).signed;
  if (o.rolloutPercent !== undefined) {
    checkRollout(o.rolloutPercent);
    body.rollout_percent = o.rolloutPercent;
  }
  if (o.expiresDays !== undefined) body.expires = expiresIn(o.now ?? Date.now(), o.expiresDays);
  await writeSigned(mPath, body, readHexKey(o.releaseKeyFile, "release secret key"));
  return body;
}

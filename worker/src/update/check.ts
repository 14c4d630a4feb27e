// Is there an update for this worker? Fetches the key set and the channel manifest and verifies the chain.
import {
  type ManifestBody,
  type PlatformBuild,
  type ReleaseChannel,
  UpdateRefused,
  verifyKeySet,
  verifyManifest,
} from "@gogrid/protocol/release";
import { fetchDocument, type Source } from "./fetch-verified.ts";
import type { UpdateStore } from "./state.ts";

export interface CheckOptions extends Source {
  manifestUrl: string;
  rootKeys: readonly string[];
  store: UpdateStore;
  channel: ReleaseChannel;
  platform: string;
  currentVersion: string;
  now: number;
}

export type CheckResult =
  | { kind: "up_to_date"; version: string }
  | { kind: "known_bad"; version: string }
  | { kind: "update"; manifest: ManifestBody; build: PlatformBuild; base: string };

export async function checkForUpdate(o: CheckOptions): Promise<CheckResult> {
  const state = o.store.read();
  const keysUrl = new URL("../keys.json", o.manifestUrl).href;
  const keys = await verifyKeySet(await fetchDocument(keysUrl, o), o.rootKeys, {
    now: o.now,
    minVersion: state.keyset_version,
  });
  const highest =
    [state.highest_version_seen, o.currentVersion]
      .filter((v): v is string => !!v)
      .sort(Bun.semver.order)
      .pop() ?? null;
  const manifest = await verifyManifest(await fetchDocument(o.manifestUrl, o), keys, {
    now: o.now,
    channel: o.channel,
    highestSeen: highest,
  });
  o.store.update((s) => {
    s.keyset_version = Math.max(s.keyset_version, keys.version);
    if (!s.highest_version_seen || Bun.semver.order(manifest.version, s.highest_version_seen) > 0)
      s.highest_version_seen = manifest.version;
  });
  if (Bun.semver.order(manifest.version, o.currentVersion) <= 0) return { kind: "up_to_date", version: manifest.version };
  if (state.bad_versions.includes(manifest.version)) return { kind: "known_bad", version: manifest.version };
  const build = manifest.platforms[o.platform];
  if (!build) {
    throw new UpdateRefused(
      "wrong_platform",
      `release ${manifest.version} has no build for ${o.platform} (it has ${Object.keys(manifest.platforms).join(", ") || "none"})`,
    );
  }
  return { kind: "update", manifest, build, base: o.manifestUrl };
}

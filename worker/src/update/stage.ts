// Puts a verified release next to where it will run: the delta applied to this binary, or the full download.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { decode } from "@ably/vcdiff-decoder";
import { type ManifestBody, type PlatformBuild, UpdateRefused } from "@gogrid/protocol/release";
import { downloadFile, type Source } from "./fetch-verified.ts";
import type { UpdateStore } from "./state.ts";

export interface Staged {
  version: string;
  sha256: string;
  /** The verified binary, beside its final place (same folder, so the install is a rename). */
  path: string;
  via: "delta" | "full";
  downloadedBytes: number;
  /** Why the delta was not used, when it was not. */
  deltaSkipped?: string;
}

export interface StageOptions extends Source {
  store: UpdateStore;
  manifest: ManifestBody;
  build: PlatformBuild;
  /** The manifest's URL: relative file URLs resolve against it. */
  base: string;
  currentVersion: string;
  /** The binary running now (the delta's source), when there is one. */
  currentBinary: string | null;
  log: (level: "info" | "warn" | "debug", message: string) => void;
}

export async function stageRelease(o: StageOptions): Promise<Staged> {
  const dir = o.store.versionDir(o.manifest.version);
  mkdirSync(dir, { recursive: true });
  const staged = `${o.store.binaryPath(o.manifest.version)}.staged`;
  rmSync(staged, { force: true });
  const want = { size: o.build.size, sha256: o.build.sha256 };
  const delta = o.build.delta;
  let skipped: string | undefined;
  // the running binary, read once: hashed here, then the delta's source
  let current: Uint8Array | undefined;
  if (!delta) skipped = "the release has no delta";
  else if (delta.from_version !== o.currentVersion) skipped = `the delta is from ${delta.from_version}, this is ${o.currentVersion}`;
  else if (!o.currentBinary || !existsSync(o.currentBinary)) skipped = "the running binary is not at hand";
  else {
    current = new Uint8Array(readFileSync(o.currentBinary));
    if (sha256Hex(current) !== delta.from_sha256) skipped = "the running binary differs from the delta's source";
  }
  if (delta && !skipped && current) {
    const patch = `${staged}.vcdiff`;
    try {
      await downloadFile(new URL(delta.url, o.base).href, { size: delta.size, sha256: delta.sha256 }, patch, o);
      const out = decode(new Uint8Array(readFileSync(patch)), current);
      if (out.byteLength !== want.size)
        throw new UpdateRefused("bad_delta", `the patched binary is ${out.byteLength} bytes, not ${want.size}`);
      const got = sha256Hex(out);
      if (got !== want.sha256) throw new UpdateRefused("bad_delta", `the patched binary's SHA-256 is ${got}, not ${want.sha256}`);
      writeFileSync(staged, out, { mode: 0o755 });
      return { version: o.manifest.version, sha256: want.sha256, path: staged, via: "delta", downloadedBytes: delta.size };
    } catch (e) {
      rmSync(staged, { force: true });
      skipped = `the delta failed (${(e as Error).message})`;
      o.log("warn", `update ${o.manifest.version}: ${skipped}; downloading the full binary`);
    } finally {
      rmSync(patch, { force: true });
    }
  }
  current = undefined; // not needed for the full download
  await downloadFile(new URL(o.build.url, o.base).href, want, staged, o);
  return {
    version: o.manifest.version,
    sha256: want.sha256,
    path: staged,
    via: "full",
    downloadedBytes: want.size,
    ...(skipped ? { deltaSkipped: skipped } : {}),
  };
}

function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

// Test fixtures: a signed release tree (keys.json + channel manifest + files) served over HTTP, with knobs for attacks.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair, type KeyPair, type ManifestBody, signBody } from "@gogrid/protocol/release";
import { signKeySet } from "../../../../scripts/release/keys.ts";
import { publish } from "../../../../scripts/release/publish.ts";

export interface ReleaseFixture {
  dir: string;
  releases: string;
  root: KeyPair;
  release: KeyPair;
  other: KeyPair;
  files: { a: string; b: string };
  url: string;
  manifestUrl: string;
  /** Bytes the server sent for file requests. */
  served: { bytes: number; requests: string[] };
  /** Replace what a path serves (attacks); null restores the file on disk. */
  override: Map<string, () => Response>;
  stop(): void;
  readManifest(): { signed: ManifestBody; signatures: unknown[] };
  writeManifest(doc: unknown): void;
  resignManifest(change: (m: ManifestBody) => void, key?: KeyPair): Promise<void>;
  resignKeys(o: { version: number; revoke?: string[]; expiresDays?: number }): Promise<void>;
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Release A (1.0.0, published first) and B (1.1.0, with a delta from A) for linux-x64 in a fresh folder. */
export async function releaseFixture(o: { size?: number; xdelta?: boolean } = {}): Promise<ReleaseFixture> {
  const dir = mkdtempSync(join(tmpdir(), "gogrid-release-"));
  const keysDir = join(dir, "keys");
  mkdirSync(keysDir);
  const [root, release, other] = [await generateKeyPair(), await generateKeyPair(), await generateKeyPair()];
  const write = (k: KeyPair, name: string) => {
    writeFileSync(join(keysDir, `${name}.key`), `${k.secretKey}\n`, { mode: 0o600 });
    return join(keysDir, `${name}.key`);
  };
  const rootFile = write(root, "root");
  const releaseFile = write(release, "release");
  const releases = join(dir, "releases");
  await signKeySet({
    rootKeyFile: rootFile,
    releasePublicKeys: [release.publicKey],
    revoke: [],
    version: 1,
    expiresDays: 365,
    out: join(releases, "keys.json"),
  });
  const size = o.size ?? 256 * 1024;
  const a = bytes(size, 1);
  const b = new Uint8Array(a);
  b.set(bytes(4096, 2), Math.floor(size / 3));
  const bin = (v: string, data: Uint8Array) => {
    const d = join(dir, `bin-${v}`, "bun-linux-x64");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "gogrid-worker"), data);
    return join(dir, `bin-${v}`);
  };
  const common = {
    channel: "stable",
    releaseKeyFile: releaseFile,
    releases,
    expiresDays: 30,
    rolloutPercent: 100,
    deltas: o.xdelta ?? true,
  };
  await publish({ ...common, version: "1.0.0", binDir: bin("a", a) });
  await publish({ ...common, version: "1.1.0", binDir: bin("b", b) });
  const files = { a: join(dir, "bin-a", "bun-linux-x64", "gogrid-worker"), b: join(dir, "bin-b", "bun-linux-x64", "gogrid-worker") };
  const served = { bytes: 0, requests: [] as string[] };
  const override = new Map<string, () => Response>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname);
      served.requests.push(path);
      const o = override.get(path);
      if (o) return o();
      if (!path.startsWith("/releases/") || path.includes("..")) return new Response("no", { status: 404 });
      const f = Bun.file(join(releases, path.slice("/releases/".length)));
      served.bytes += f.size;
      return new Response(f);
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  const mPath = join(releases, "stable", "manifest.json");
  const fx: ReleaseFixture = {
    dir,
    releases,
    root,
    release,
    other,
    files,
    url,
    manifestUrl: `${url}/releases/stable/manifest.json`,
    served,
    override,
    stop: () => server.stop(true),
    readManifest: () => JSON.parse(readFileSync(mPath, "utf8")),
    writeManifest: (doc) => writeFileSync(mPath, JSON.stringify(doc)),
    async resignManifest(change, key = release) {
      const m = fx.readManifest().signed;
      change(m);
      fx.writeManifest(await signBody(m, key.secretKey));
    },
    async resignKeys(k) {
      await signKeySet({
        rootKeyFile: rootFile,
        releasePublicKeys: [release.publicKey, other.publicKey],
        revoke: k.revoke ?? [],
        version: k.version,
        expiresDays: k.expiresDays ?? 365,
        out: join(releases, "keys.json"),
      });
    },
  };
  return fx;
}

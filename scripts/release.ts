// `bun run release <keygen|keys|publish|resign>`: release keys, the signed key set, and signed channel manifests.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { keygen, publicKeyFrom, signKeySet } from "./release/keys.ts";
import { publish, resign, xdelta3Available } from "./release/publish.ts";

const root = resolve(import.meta.dir, "..");

const USAGE = `usage: bun run release <command> [options]

  keygen  --out <path prefix>                       a new Ed25519 key: <prefix>.key (secret, 0600) and <prefix>.pub
                                                    (refuses to write inside a git work tree: keep keys outside the repository)
  keys    --root-key <file.key> --release <file.pub|hex>... [--revoke <keyid|file.pub>...]
          --version <n> [--expires-days 365] [--releases <dir>]
                                                    signs <releases>/keys.json: the release keys the root key vouches for
  publish --channel <stable|beta> --version <semver> --release-key <file.key>
          [--bin-dir dist/bin] [--releases <dir>] [--expires-days 30] [--minimum-version <semver>]
          [--rollout <1-100>] [--no-delta]
                                                    copies the built workers, makes deltas from the channel's previous
                                                    release (xdelta3), signs <releases>/<channel>/manifest.json
  resign  --channel <c> --release-key <file.key> [--rollout <1-100>] [--expires-days <n>] [--releases <dir>]
                                                    widens a staged rollout or renews the manifest's expiry

--releases defaults to ./releases; the coordinator serves that folder (its releases_dir setting).`;

function num(flag: string, v: string | undefined, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`--${flag} is required`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isFinite(n) || !/^\d+$/.test(v)) throw new Error(`--${flag} "${v}" is not a whole number`);
  return n;
}

function need(flag: string, v: string | undefined): string {
  if (!v) throw new Error(`--${flag} is required`);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const { values: v } = parseArgs({
    args: rest,
    options: {
      out: { type: "string" },
      "root-key": { type: "string" },
      release: { type: "string", multiple: true },
      revoke: { type: "string", multiple: true },
      version: { type: "string" },
      "expires-days": { type: "string" },
      releases: { type: "string" },
      channel: { type: "string" },
      "release-key": { type: "string" },
      "bin-dir": { type: "string" },
      "minimum-version": { type: "string" },
      rollout: { type: "string" },
      "no-delta": { type: "boolean" },
      "allow-in-repo": { type: "boolean" },
    },
  });
  const releases = v.releases ?? "releases";
  switch (command) {
    case "keygen": {
      const k = await keygen(need("out", v.out), { allowInRepo: v["allow-in-repo"] ?? false });
      console.log(`key ${k.keyid}: ${k.files.join(", ")}\npublic key ${k.publicKey}`);
      return 0;
    }
    case "keys": {
      const pks = await Promise.all((v.release ?? []).map(publicKeyFrom));
      if (pks.length === 0) throw new Error("--release <file.pub> is required (at least one release key)");
      const body = await signKeySet({
        rootKeyFile: need("root-key", v["root-key"]),
        releasePublicKeys: pks,
        revoke: v.revoke ?? [],
        version: num("version", v.version),
        expiresDays: num("expires-days", v["expires-days"], 365),
        out: join(releases, "keys.json"),
      });
      console.log(
        `keys.json version ${body.version}: ${body.keys.map((k) => k.keyid).join(", ")}; revoked: ${body.revoked.join(", ") || "none"}`,
      );
      return 0;
    }
    case "publish": {
      const deltas = !v["no-delta"];
      if (deltas && !xdelta3Available()) console.error("note: xdelta3 is not installed (apt-get install xdelta3): full downloads only");
      const r = await publish({
        channel: need("channel", v.channel),
        version: need("version", v.version),
        releaseKeyFile: need("release-key", v["release-key"]),
        binDir: v["bin-dir"] ?? join(root, "dist", "bin"),
        releases,
        expiresDays: num("expires-days", v["expires-days"], 30),
        ...(v["minimum-version"] ? { minimumVersion: v["minimum-version"] } : {}),
        rolloutPercent: num("rollout", v.rollout, 100),
        deltas: deltas && xdelta3Available(),
      });
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      console.log(`${r.manifest.channel} ${r.manifest.version} (rollout ${r.manifest.rollout_percent}%, expires ${r.manifest.expires})`);
      for (const p of r.platforms) {
        const delta =
          p.delta_size === null
            ? "no delta"
            : `delta from ${p.delta_from}: ${(p.delta_size / 1024).toFixed(1)} KiB (${((100 * p.delta_size) / p.size).toFixed(2)}%)`;
        console.log(`  ${p.platform.padEnd(18)} full ${mib(p.size).padStart(10)}   ${delta}`);
      }
      console.log(JSON.stringify({ channel: r.manifest.channel, version: r.manifest.version, platforms: r.platforms }));
      return 0;
    }
    case "resign": {
      const body = await resign({
        releases,
        channel: need("channel", v.channel),
        releaseKeyFile: need("release-key", v["release-key"]),
        ...(v.rollout !== undefined ? { rolloutPercent: num("rollout", v.rollout) } : {}),
        ...(v["expires-days"] !== undefined ? { expiresDays: num("expires-days", v["expires-days"]) } : {}),
      });
      console.log(`${body.channel} ${body.version}: rollout ${body.rollout_percent}%, expires ${body.expires}`);
      return 0;
    }
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    process.exit(await main(process.argv.slice(2)));
  } catch (e) {
    console.error(`release: ${(e as Error).message}`);
    process.exit(2);
  }
}

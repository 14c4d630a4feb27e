// `bun run release`: keys kept out of the repository, key set re-signing keeps revocations, publish refuses going back.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);

import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyKeySet, verifyManifest } from "../protocol/src/release/index.ts";

const root = join(import.meta.dir, "..");

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, "scripts/release.ts", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

describe("bun run release", () => {
  test("keygen writes a 0600 secret key outside the repository and refuses inside it or over an existing key", async () => {
    const d = mkdtempSync(join(tmpdir(), "gogrid-keys-"));
    const ok = await cli(["keygen", "--out", join(d, "root")]);
    expect(ok.code).toBe(0);
    expect(statSync(join(d, "root.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(d, "root.pub"), "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await cli(["keygen", "--out", join(d, "root")])).err).toContain("exists: refusing to overwrite");
    const inRepo = await cli(["keygen", "--out", join(root, "dist", "should-not-exist")]);
    expect(inRepo.code).toBe(2);
    expect(inRepo.err).toContain("refusing to write a secret key inside the git work tree");
  });

  test("keys, publish, resign: a verifiable chain; revocations carry forward; versions only go up; bad flags are named", async () => {
    const d = mkdtempSync(join(tmpdir(), "gogrid-rel-"));
    for (const k of ["root", "rel1", "rel2"]) expect((await cli(["keygen", "--out", join(d, k)])).code).toBe(0);
    const pub = (k: string) => readFileSync(join(d, `${k}.pub`), "utf8").trim();
    const releases = join(d, "releases");
    const keys = (v: string, extra: string[] = []) =>
      cli([
        "keys",
        "--root-key",
        join(d, "root.key"),
        "--release",
        join(d, "rel1.pub"),
        "--release",
        join(d, "rel2.pub"),
        "--version",
        v,
        "--releases",
        releases,
        ...extra,
      ]);
    expect((await keys("1", ["--revoke", join(d, "rel2.pub")])).code).toBe(0);
    expect((await keys("2")).code).toBe(0); // rel2 stays revoked without being named again
    expect((await keys("2")).err).toContain("--version 2 must be above the current key set's version 2");
    const set = await verifyKeySet(JSON.parse(readFileSync(join(releases, "keys.json"), "utf8")), [pub("root")], {
      now: Date.now(),
      minVersion: 1,
    });
    expect(set.keys.map((k) => k.public_key)).toEqual([pub("rel1")]);
    expect(set.revoked.length).toBe(1);

    const bin = join(d, "bin", "bun-windows-x64");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "gogrid-worker.exe"), "MZ fake windows worker");
    const publish = (v: string, extra: string[] = []) =>
      cli([
        "publish",
        "--channel",
        "beta",
        "--version",
        v,
        "--release-key",
        join(d, "rel1.key"),
        "--bin-dir",
        join(d, "bin"),
        "--releases",
        releases,
        ...extra,
      ]);
    const first = await publish("2.0.0", ["--rollout", "25"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out.trim().split("\n").at(-1)!)).toMatchObject({
      channel: "beta",
      version: "2.0.0",
      platforms: [{ platform: "windows-x64", delta_size: null }],
    });
    expect((await publish("1.9.0")).err).toContain("--version 1.9.0 must be above 2.0.0");
    expect((await publish("two")).err).toContain('--version "two" is not a semantic version');
    expect((await publish("2.1.0", ["--rollout", "0"])).err).toContain("--rollout 0 is not valid");
    expect(
      (await cli(["publish", "--channel", "nightly", "--version", "3.0.0", "--release-key", join(d, "rel1.key"), "--releases", releases]))
        .err,
    ).toContain('--channel "nightly" is not valid');
    expect(
      (await cli(["resign", "--channel", "beta", "--release-key", join(d, "rel1.key"), "--rollout", "100", "--releases", releases])).code,
    ).toBe(0);
    const m = await verifyManifest(JSON.parse(readFileSync(join(releases, "beta", "manifest.json"), "utf8")), set, {
      now: Date.now(),
      channel: "beta",
      highestSeen: null,
    });
    expect(m).toMatchObject({ version: "2.0.0", rollout_percent: 100 });
    expect(m.platforms["windows-x64"]!.url).toBe("../files/2.0.0/windows-x64/gogrid-worker.exe");
    // signed with the revoked key: the worker refuses it
    expect((await cli(["resign", "--channel", "beta", "--release-key", join(d, "rel2.key"), "--releases", releases])).code).toBe(0);
    await expect(
      verifyManifest(JSON.parse(readFileSync(join(releases, "beta", "manifest.json"), "utf8")), set, {
        now: Date.now(),
        channel: "beta",
        highestSeen: null,
      }),
    ).rejects.toThrow("revoked release key");
  });
});

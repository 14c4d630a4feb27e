import { describe, expect, test } from "bun:test";
import { canonicalJson } from "./canonical.ts";
import { UpdateRefused } from "./errors.ts";
import type { KeySetBody, ManifestBody } from "./model.ts";
import { inRollout, platformKey } from "./platform.ts";
import { generateKeyPair, signBody, verifyKeySet, verifyManifest } from "./signing.ts";

const NOW = Date.parse("2026-11-27T12:00:00Z");
const root = await generateKeyPair();
const release = await generateKeyPair();
const other = await generateKeyPair();
const SHA = "a".repeat(64);

const keySetBody = (o: Partial<KeySetBody> = {}): KeySetBody => ({
  type: "gogrid-keys",
  version: 3,
  expires: "2027-11-27T00:00:00Z",
  keys: [{ keyid: release.keyid, public_key: release.publicKey }],
  revoked: [],
  ...o,
});
const manifestBody = (o: Partial<ManifestBody> = {}): ManifestBody => ({
  type: "gogrid-release",
  channel: "stable",
  version: "1.2.0",
  released_at: "2026-11-27T00:00:00Z",
  expires: "2026-12-27T00:00:00Z",
  minimum_version: "1.0.0",
  rollout_percent: 100,
  platforms: { "linux-x64": { url: "1.2.0/linux-x64/gogrid-worker", size: 10, sha256: SHA } },
  ...o,
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof UpdateRefused) return e.code;
    throw e;
  }
  return "accepted";
}

describe("release key set (root → release keys)", () => {
  const verify = (doc: unknown, minVersion = 1) => verifyKeySet(doc, [root.publicKey], { now: NOW, minVersion });

  test("a set signed by the root key is accepted", async () => {
    const keys = await verify(await signBody(keySetBody(), root.secretKey));
    expect(keys.keys[0]!.keyid).toBe(release.keyid);
  });
  test("refusals: unknown signer, tampered, expired, older version, malformed", async () => {
    expect(await refusal(verify(await signBody(keySetBody(), other.secretKey)))).toBe("unknown_key");
    const tampered = await signBody(keySetBody(), root.secretKey);
    tampered.signed.keys.push({ keyid: other.keyid, public_key: other.publicKey });
    expect(await refusal(verify(tampered))).toBe("bad_signature");
    expect(await refusal(verify(await signBody(keySetBody({ expires: "2026-11-27T11:59:59Z" }), root.secretKey)))).toBe("expired");
    expect(await refusal(verify(await signBody(keySetBody({ version: 2 }), root.secretKey), 3))).toBe("keyset_rollback");
    expect(await refusal(verify("{not json"))).toBe("bad_document");
    expect(await refusal(verify({ signed: { type: "gogrid-keys" }, signatures: [] }))).toBe("bad_document");
  });
});

describe("release manifest (release key → manifest)", () => {
  const keys = keySetBody({ keys: [{ keyid: release.keyid, public_key: release.publicKey }], revoked: [other.keyid] });
  const verify = (doc: unknown, highestSeen: string | null = "1.1.0", k = keys) =>
    verifyManifest(doc, k, { now: NOW, channel: "stable", highestSeen });

  test("a manifest signed by a listed release key is accepted", async () => {
    expect((await verify(await signBody(manifestBody(), release.secretKey))).version).toBe("1.2.0");
  });
  test("each attack has its own refusal", async () => {
    const tampered = await signBody(manifestBody(), release.secretKey);
    tampered.signed.platforms["linux-x64"]!.sha256 = "b".repeat(64);
    expect(await refusal(verify(tampered))).toBe("bad_signature");
    expect(await refusal(verify(await signBody(manifestBody(), root.secretKey)))).toBe("unknown_key");
    expect(await refusal(verify(await signBody(manifestBody(), other.secretKey)))).toBe("revoked_key");
    // revoking a key that is still listed wins
    const both = { ...keys, keys: [...keys.keys, { keyid: other.keyid, public_key: other.publicKey }] };
    expect(await refusal(verify(await signBody(manifestBody(), other.secretKey), "1.1.0", both))).toBe("revoked_key");
    expect(await refusal(verify(await signBody(manifestBody({ expires: "2026-11-01T00:00:00Z" }), release.secretKey)))).toBe("expired");
    expect(await refusal(verify(await signBody(manifestBody({ channel: "beta" }), release.secretKey)))).toBe("wrong_channel");
    expect(await refusal(verify(await signBody(manifestBody({ version: "1.0.9" }), release.secretKey)))).toBe("version_rollback");
    expect(await refusal(verify(await signBody(manifestBody({ version: "1.3.0-beta.1" }), release.secretKey), "1.3.0"))).toBe(
      "version_rollback",
    );
  });
  test("signatures cover the canonical form, not the key order of the file", async () => {
    const env = await signBody(manifestBody(), release.secretKey);
    const reordered = JSON.parse(
      JSON.stringify({ signatures: env.signatures, signed: Object.fromEntries(Object.entries(env.signed).reverse()) }),
    );
    expect((await verify(reordered)).version).toBe("1.2.0");
    expect(canonicalJson({ b: 1, a: [2, { d: null, c: "x" }] })).toBe('{"a":[2,{"c":"x","d":null}],"b":1}');
  });
});

describe("platforms and staged rollout", () => {
  test("platform keys follow bun's target names", () => {
    expect(platformKey("linux", "x64")).toBe("linux-x64");
    expect(platformKey("win32", "x64")).toBe("windows-x64");
    expect(platformKey("darwin", "arm64", "gpu")).toBe("darwin-arm64-gpu");
  });
  test("a rollout percentage picks about that share, and raising it only adds nodes", () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => `node-${i}`);
    const at = (p: number) => new Set(nodes.filter((n) => inRollout(n, "1.2.0", p)));
    const ten = at(10);
    const fifty = at(50);
    expect(ten.size).toBeGreaterThan(140);
    expect(ten.size).toBeLessThan(260);
    expect(fifty.size).toBeGreaterThan(900);
    expect([...ten].every((n) => fifty.has(n))).toBe(true);
    expect(at(100).size).toBe(2000);
  });
});

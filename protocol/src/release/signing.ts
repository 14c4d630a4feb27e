// Ed25519 keys and signatures over canonical JSON; the root → release key → manifest chain of trust.
import * as ed from "@noble/ed25519";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { canonicalBytes } from "./canonical.ts";
import { UpdateRefused } from "./errors.ts";
import { type KeySetBody, KeySetEnvelope, type ManifestBody, ManifestEnvelope, type ReleaseChannel, type Signature } from "./model.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

export interface KeyPair {
  keyid: string;
  publicKey: string;
  secretKey: string;
}

export function keyIdOf(publicKeyHex: string): string {
  return new Bun.CryptoHasher("sha256").update(unhex(publicKeyHex)).digest("hex").slice(0, 16);
}

export async function generateKeyPair(): Promise<KeyPair> {
  const { secretKey, publicKey } = await ed.keygenAsync();
  return { keyid: keyIdOf(hex(publicKey)), publicKey: hex(publicKey), secretKey: hex(secretKey) };
}

export async function publicKeyOf(secretKeyHex: string): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(secretKeyHex)) throw new Error("a secret key is 64 hex characters");
  return hex(await ed.getPublicKeyAsync(unhex(secretKeyHex)));
}

export async function signBody<T>(body: T, secretKeyHex: string): Promise<{ signed: T; signatures: Signature[] }> {
  const publicKey = await publicKeyOf(secretKeyHex);
  const sig = await ed.signAsync(canonicalBytes(body), unhex(secretKeyHex));
  return { signed: body, signatures: [{ keyid: keyIdOf(publicKey), sig: hex(sig) }] };
}

async function validSignature(body: unknown, s: Signature, publicKeyHex: string): Promise<boolean> {
  try {
    return await ed.verifyAsync(unhex(s.sig), canonicalBytes(body), unhex(publicKeyHex), { zip215: false });
  } catch {
    return false;
  }
}

function parse<T extends TSchema>(schema: T, doc: unknown, what: string) {
  const value = typeof doc === "string" ? safeJson(doc, what) : doc;
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    throw new UpdateRefused("bad_document", `the ${what} is malformed${first ? ` at ${first.path || "/"}: ${first.message}` : ""}`);
  }
  return value as T["static"];
}

function safeJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpdateRefused("bad_document", `the ${what} is not JSON`);
  }
}

function checkExpiry(expires: string, now: number, what: string): void {
  const t = Date.parse(expires);
  if (!Number.isFinite(t)) throw new UpdateRefused("bad_document", `the ${what} has an unreadable expiry "${expires}"`);
  if (t <= now) throw new UpdateRefused("expired", `the ${what} expired at ${expires}`);
}

/** Checks the key set against the embedded root keys; refuses a lower version than `minVersion`. */
export async function verifyKeySet(
  doc: unknown,
  rootPublicKeys: readonly string[],
  o: { now: number; minVersion: number },
): Promise<KeySetBody> {
  const env = parse(KeySetEnvelope, doc, "release key set");
  const roots = new Map(rootPublicKeys.map((k) => [keyIdOf(k), k]));
  let known = false;
  let ok = false;
  for (const s of env.signatures) {
    const pk = roots.get(s.keyid);
    if (!pk) continue;
    known = true;
    if (await validSignature(env.signed, s, pk)) ok = true;
  }
  if (!known) throw new UpdateRefused("unknown_key", "the release key set is not signed by a root key this worker trusts");
  if (!ok) throw new UpdateRefused("bad_signature", "the release key set's root signature does not verify");
  checkExpiry(env.signed.expires, o.now, "release key set");
  if (env.signed.version < o.minVersion) {
    throw new UpdateRefused(
      "keyset_rollback",
      `release key set version ${env.signed.version} is older than version ${o.minVersion} already seen`,
    );
  }
  return env.signed;
}

/** Checks a channel manifest against a verified key set; refuses versions below `highestSeen`. */
export async function verifyManifest(
  doc: unknown,
  keys: KeySetBody,
  o: { now: number; channel: ReleaseChannel; highestSeen: string | null },
): Promise<ManifestBody> {
  const env = parse(ManifestEnvelope, doc, "release manifest");
  const revoked = new Set(keys.revoked);
  const trusted = new Map(keys.keys.filter((k) => !revoked.has(k.keyid)).map((k) => [k.keyid, k.public_key]));
  let ok = false;
  let sawRevoked = false;
  let sawTrusted = false;
  for (const s of env.signatures) {
    if (revoked.has(s.keyid)) sawRevoked = true;
    const pk = trusted.get(s.keyid);
    if (!pk) continue;
    sawTrusted = true;
    if (await validSignature(env.signed, s, pk)) ok = true;
  }
  if (!ok) {
    if (sawTrusted) throw new UpdateRefused("bad_signature", "the release manifest's signature does not verify");
    if (sawRevoked) throw new UpdateRefused("revoked_key", "the release manifest is signed by a revoked release key");
    throw new UpdateRefused("unknown_key", "the release manifest is signed by a key outside the release key set");
  }
  const m = env.signed;
  checkExpiry(m.expires, o.now, "release manifest");
  if (m.channel !== o.channel)
    throw new UpdateRefused("wrong_channel", `the manifest is for channel "${m.channel}", this worker follows "${o.channel}"`);
  if (o.highestSeen && Bun.semver.order(m.version, o.highestSeen) < 0) {
    throw new UpdateRefused("version_rollback", `release ${m.version} is older than ${o.highestSeen}, already seen`);
  }
  return m;
}

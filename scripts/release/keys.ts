// Release keys on disk: hex Ed25519 secret keys (0600) kept outside the repository, and the signed key set.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { generateKeyPair, type KeySetBody, keyIdOf, publicKeyOf, signBody } from "../../protocol/src/release/index.ts";

/** The git work tree holding `dir`, if any (keys must not be committed by accident). */
function workTreeOf(dir: string): string | null {
  let d = resolve(dir);
  for (;;) {
    if (existsSync(resolve(d, ".git"))) return d;
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

export async function keygen(
  outPrefix: string,
  o: { allowInRepo?: boolean } = {},
): Promise<{ keyid: string; publicKey: string; files: string[] }> {
  const keyFile = `${outPrefix}.key`;
  const pubFile = `${outPrefix}.pub`;
  const dir = dirname(resolve(keyFile));
  const tree = workTreeOf(dir);
  if (tree && !o.allowInRepo) {
    throw new Error(`refusing to write a secret key inside the git work tree ${tree}: keep release keys outside the repository`);
  }
  for (const f of [keyFile, pubFile]) if (existsSync(f)) throw new Error(`${f} exists: refusing to overwrite a key`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const k = await generateKeyPair();
  writeFileSync(keyFile, `${k.secretKey}\n`, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(pubFile, `${k.publicKey}\n`);
  return { keyid: k.keyid, publicKey: k.publicKey, files: [keyFile, pubFile] };
}

/** The ISO time `days` days after `now` (ms): when a signed manifest or key set expires. */
export function expiresIn(now: number, days: number): string {
  return new Date(now + days * 86_400_000).toISOString();
}

export function readHexKey(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch {
    throw new Error(`cannot read the ${what} file ${file}`);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file} is not a ${what} (expected 64 hex characters)`);
  return text;
}

/** A public key given as a .pub file, a secret .key file, or 64 hex characters. */
export async function publicKeyFrom(arg: string): Promise<string> {
  if (/^[0-9a-f]{64}$/.test(arg)) return arg;
  if (arg.endsWith(".key")) return await publicKeyOf(readHexKey(arg, "secret key"));
  return readHexKey(arg, "public key");
}

export async function signKeySet(o: {
  rootKeyFile: string;
  releasePublicKeys: string[];
  revoke: string[];
  version: number;
  expiresDays: number;
  out: string;
  now?: number;
}): Promise<KeySetBody> {
  const root = readHexKey(o.rootKeyFile, "root secret key");
  if (!Number.isInteger(o.version) || o.version < 1)
    throw new Error(`--version ${o.version} is not valid: a key set version is an integer ≥ 1`);
  if (existsSync(o.out)) {
    const old = JSON.parse(readFileSync(o.out, "utf8")) as { signed?: { version?: number; revoked?: string[] } };
    if ((old.signed?.version ?? 0) >= o.version) {
      throw new Error(`--version ${o.version} must be above the current key set's version ${old.signed?.version} in ${o.out}`);
    }
    // a revocation is for ever: carry earlier ones forward
    o.revoke = [...new Set([...(old.signed?.revoked ?? []), ...o.revoke])];
  }
  const revoked = await Promise.all(o.revoke.map(async (r) => (/^[0-9a-f]{16}$/.test(r) ? r : keyIdOf(await publicKeyFrom(r)))));
  const keys = o.releasePublicKeys.map((pk) => ({ keyid: keyIdOf(pk), public_key: pk })).filter((k) => !revoked.includes(k.keyid));
  const body: KeySetBody = {
    type: "gogrid-keys",
    version: o.version,
    expires: expiresIn(o.now ?? Date.now(), o.expiresDays),
    keys,
    revoked: [...new Set(revoked)],
  };
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(await signBody(body, root), null, 2)}\n`);
  return body;
}

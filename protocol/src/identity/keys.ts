// ECDSA P-256 key helpers over WebCrypto: generate, PKCS#8 PEM export/import, PEM decoding.
import { PkiError } from "./errors.ts";
import { x509 } from "./x509.ts";

export const P256_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
export const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

/** A fresh P-256 key pair; `extractable` so it can be written to a PKCS#8 file. */
export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(P256_KEY, true, ["sign", "verify"]);
}

/** The private key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). The key must be extractable. */
export async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** The DER body of the first PEM block with the given label; throws PkiError on anything else. */
export function decodePem(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  const body = match?.[1]?.replace(/\s+/g, "");
  if (!body || body.length % 4 !== 0) throw new PkiError("malformed_pem", `expected a PEM block "${label}"`);
  return new Uint8Array(Buffer.from(body, "base64"));
}

/**
 * Imports a P-256 PKCS#8 PEM private key as a pair: a non-extractable signing key and the public
 * key derived from it. Throws PkiError("malformed_pem") when the PEM is not a P-256 PKCS#8 key.
 */
export async function importPkcs8Pem(pem: string): Promise<CryptoKeyPair> {
  const der = decodePem(pem, "PRIVATE KEY");
  try {
    const extractable = await crypto.subtle.importKey("pkcs8", der, P256_KEY, true, ["sign"]);
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", extractable);
    const privateKey = await crypto.subtle.importKey("pkcs8", der, P256_KEY, false, ["sign"]);
    const publicKey = await crypto.subtle.importKey("jwk", { kty, crv, x, y, ext: true }, P256_KEY, true, ["verify"]);
    return { privateKey, publicKey };
  } catch (error) {
    throw new PkiError("malformed_pem", `not an ECDSA P-256 PKCS#8 private key (${(error as Error).message})`);
  }
}

/** DER SubjectPublicKeyInfo of a public key. */
export async function spkiDer(publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
}

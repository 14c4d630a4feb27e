// Auth challenge: nonces match the schema, and a WebCrypto P-256 signature fits auth_response.
import { describe, expect, test } from "bun:test";
import { AUTH_CONTEXT, authChallengePayload, newNonce } from "./auth-payload.ts";
import { decodeCoordinatorMessage, decodeWorkerMessage, encode } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { fixtures } from "./fixtures.ts";

describe("auth challenge", () => {
  test("newNonce is 32 random bytes that auth_challenge accepts", () => {
    const nonce = newNonce();
    expect(Buffer.from(nonce, "base64")).toHaveLength(32);
    expect(newNonce()).not.toBe(nonce);
    expect(decodeCoordinatorMessage(encode({ type: "auth_challenge", nonce, protocol_version: 1 })).ok).toBe(true);
  });

  test("payload is the context prefix then the nonce bytes", () => {
    const nonce = newNonce();
    const payload = authChallengePayload(nonce);
    const prefix = new TextEncoder().encode(AUTH_CONTEXT);
    expect(payload.slice(0, prefix.length)).toEqual(prefix);
    expect(Buffer.from(payload.slice(prefix.length)).toString("base64")).toBe(nonce);
  });

  test("malformed nonces throw a ProtocolError", () => {
    expect(() => authChallengePayload("c2hvcnQ=")).toThrow(ProtocolError);
    expect(() => authChallengePayload(`${newNonce().slice(0, 43)}!`)).toThrow(/exactly 32 bytes/);
  });

  test("a WebCrypto ECDSA P-256 signature travels in auth_response and verifies", async () => {
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const nonce = newNonce();
    const algorithm = { name: "ECDSA", hash: "SHA-256" };
    const signature = Buffer.from(await crypto.subtle.sign(algorithm, keys.privateKey, authChallengePayload(nonce))).toString("base64");
    const decoded = decodeWorkerMessage(encode({ ...fixtures.auth_response, signature }));
    if (!decoded.ok) throw decoded.error;
    if (decoded.message.type !== "auth_response") throw new Error("wrong type");
    const raw = Buffer.from(decoded.message.signature, "base64");
    expect(await crypto.subtle.verify(algorithm, keys.publicKey, raw, authChallengePayload(nonce))).toBe(true);
    expect(await crypto.subtle.verify(algorithm, keys.publicKey, raw, authChallengePayload(newNonce()))).toBe(false);
  });
});

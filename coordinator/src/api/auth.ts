// Bearer API keys: made once, stored as SHA-256, looked up per request.
import { createHash, randomBytes } from "node:crypto";
import type { ApiKeyRow, Repository } from "../db/repository.ts";
import { unauthorized } from "./errors.ts";

export const API_KEY_PREFIX = "gg-";

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A new API key: the secret (shown once) and the row to store. */
export function newApiKey(
  name: string,
  now = Date.now(),
): { secret: string; row: Pick<ApiKeyRow, "id" | "keyHash" | "name" | "createdAt"> } {
  const secret = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { secret, row: { id: crypto.randomUUID(), keyHash: hashSecret(secret), name, createdAt: now } };
}

/** The key behind `Authorization: Bearer …`, or a 401 with an OpenAI-shaped body. */
export async function authenticate(repo: Repository, request: Request): Promise<ApiKeyRow> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) {
    throw unauthorized(
      "You didn't provide an API key. Send it as `Authorization: Bearer <key>`; ask the operator for one (gogrid-admin keys create).",
    );
  }
  const key = await repo.findApiKeyByHash(hashSecret(match[1] as string));
  if (!key) throw unauthorized("Incorrect API key provided.");
  if (key.revokedAt !== null) throw unauthorized("This API key has been revoked.");
  return key;
}

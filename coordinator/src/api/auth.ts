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

/** How long a found key is reused without a database read: a revoked key stops working within this. */
export const API_KEY_CACHE_MS = 1000;
const CACHE_MAX_KEYS = 10_000;

/** Found keys by hash, each reused for `ttlMs` (unknown keys are always looked up, so new keys work at once). */
export class ApiKeyCache {
  private readonly found = new Map<string, { key: ApiKeyRow; at: number }>();

  constructor(
    private readonly ttlMs = API_KEY_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async lookup(repo: Repository, keyHash: string): Promise<ApiKeyRow | null> {
    const t = this.now();
    const hit = this.found.get(keyHash);
    if (hit && t - hit.at < this.ttlMs) return hit.key;
    const key = await repo.findApiKeyByHash(keyHash);
    if (!key) {
      this.found.delete(keyHash);
      return null;
    }
    if (this.found.size >= CACHE_MAX_KEYS) this.found.clear();
    this.found.set(keyHash, { key, at: t });
    return key;
  }
}

const caches = new WeakMap<Repository, ApiKeyCache>();

function cacheFor(repo: Repository): ApiKeyCache {
  let cache = caches.get(repo);
  if (!cache) {
    cache = new ApiKeyCache();
    caches.set(repo, cache);
  }
  return cache;
}

/** The token of an `Authorization: Bearer <token>` header, or null when the header is missing or not that. */
export function bearerToken(header: string | null): string | null {
  return /^Bearer\s+(\S+)$/i.exec((header ?? "").trim())?.[1] ?? null;
}

/** The key behind `Authorization: Bearer …`, or a 401 with an OpenAI-shaped body. */
export async function authenticate(repo: Repository, request: Request, cache: ApiKeyCache = cacheFor(repo)): Promise<ApiKeyRow> {
  const secret = bearerToken(request.headers.get("authorization"));
  if (secret === null) {
    throw unauthorized(
      "You didn't provide an API key. Send it as `Authorization: Bearer <key>`; ask the operator for one (gogrid-admin keys create).",
    );
  }
  const key = await cache.lookup(repo, hashSecret(secret));
  if (!key) throw unauthorized("Incorrect API key provided.");
  if (key.revokedAt !== null) throw unauthorized("This API key has been revoked.");
  return key;
}

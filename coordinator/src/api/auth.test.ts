// API key lookups: reused briefly, new keys work at once, a revoked key stops working within the cache time.
import { expect, test } from "bun:test";
import type { ApiKeyRow, Repository } from "../db/repository.ts";
import { ApiKeyCache, authenticate, newApiKey } from "./auth.ts";
import { ApiError } from "./errors.ts";

function fakeRepo(keys: ApiKeyRow[]): { repo: Repository; lookups: () => number } {
  let n = 0;
  const repo = {
    findApiKeyByHash: async (h: string) => {
      n++;
      const k = keys.find((x) => x.keyHash === h);
      return k ? { ...k } : null;
    },
  } as unknown as Repository;
  return { repo, lookups: () => n };
}

const bearer = (secret: string) => new Request("http://test/v1/models", { headers: { authorization: `Bearer ${secret}` } });

test("a found key is reused for the cache time, then read again: a revocation takes effect within it", async () => {
  const { secret, row } = newApiKey("k");
  const stored: ApiKeyRow = { ...row, revokedAt: null, promptTokens: 0, completionTokens: 0, costMicros: 0 };
  const { repo, lookups } = fakeRepo([stored]);
  let now = 1_000;
  const cache = new ApiKeyCache(1000, () => now);
  expect((await authenticate(repo, bearer(secret), cache)).id).toBe(row.id);
  expect((await authenticate(repo, bearer(secret), cache)).id).toBe(row.id);
  expect(lookups()).toBe(1);

  stored.revokedAt = now; // revoked by the operator
  now += 999;
  expect((await authenticate(repo, bearer(secret), cache)).id).toBe(row.id); // still cached
  now += 1;
  const err = await authenticate(repo, bearer(secret), cache).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).status).toBe(401);
  expect((err as ApiError).message).toContain("revoked");
  expect(lookups()).toBe(2);
});

test("unknown keys are never cached: a key created after a failed try works at once", async () => {
  const { secret, row } = newApiKey("late");
  const keys: ApiKeyRow[] = [];
  const { repo, lookups } = fakeRepo(keys);
  const cache = new ApiKeyCache(60_000, () => 5);
  const err = await authenticate(repo, bearer(secret), cache).catch((e: unknown) => e);
  expect((err as ApiError).message).toContain("Incorrect API key");
  keys.push({ ...row, revokedAt: null, promptTokens: 0, completionTokens: 0, costMicros: 0 });
  expect((await authenticate(repo, bearer(secret), cache)).id).toBe(row.id);
  expect(lookups()).toBe(2);
});

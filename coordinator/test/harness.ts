// Test harness: coordinators on loopback with fresh storage, plus the admin steps tests need.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newApiKey } from "../src/api/auth.ts";
import { loadConfig } from "../src/config/load.ts";
import type { Config } from "../src/config/settings.ts";
import { type Coordinator, startCoordinator } from "../src/coordinator.ts";
import type { Repository } from "../src/db/repository.ts";
import { newEnrolmentToken } from "../src/enrolment/index.ts";

export const SHARED_MODEL = join(import.meta.dir, "..", "..", "..", "shared", "models", "stories260K.gguf");

export function testConfig(overrides: Partial<Config> = {}): Config {
  const dataDir = mkdtempSync(join(tmpdir(), "gogrid-coord-"));
  return {
    ...loadConfig({ env: {}, flags: { dataDir } }),
    apiHost: "127.0.0.1",
    apiPort: 0,
    workerHost: "127.0.0.1",
    workerPort: 0,
    logLevel: "error",
    retryBaseMs: 50,
    leaseSecs: 5,
    // no random audit re-runs (issue 9) unless a test asks: they would add jobs other tests count
    auditFraction: 0,
    ...overrides,
  };
}

export async function start(overrides: Partial<Config> = {}): Promise<Coordinator & { cleanup(): Promise<void> }> {
  const config = testConfig(overrides);
  const quiet = () => {};
  const c = await startCoordinator(config, quiet);
  return {
    ...c,
    async cleanup() {
      await c.stop();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

export async function enrolmentToken(repo: Repository, ttlMs = 60_000, label = "test"): Promise<string> {
  const t = newEnrolmentToken();
  await repo.createEnrolmentToken({
    tokenHash: t.hash,
    label,
    ownerId: null,
    createdAt: Date.now(),
    expiresAt: Date.now() + ttlMs,
  });
  return t.secret;
}

export async function apiKey(repo: Repository): Promise<string> {
  const k = newApiKey("test");
  await repo.createApiKey(k.row);
  return k.secret;
}

export async function addModel(repo: Repository, id = "stories260K"): Promise<void> {
  await repo.upsertModel({
    id,
    source: SHARED_MODEL,
    sha256: "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
    sizeBytes: 1185376,
    contextLength: 2048,
    createdAt: Date.now(),
  });
}

/** Polls until `check` is true (or fails after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await Bun.sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

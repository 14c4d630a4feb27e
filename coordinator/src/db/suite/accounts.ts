// Shared repository tests: workers, certificates, enrolment tokens, API keys, models, ledger, metrics.
import { expect, test } from "bun:test";
import type { SuiteContext } from "./context.ts";

const worker = (nodeId: string, ownerId: string | null = null) => ({
  nodeId,
  clientId: `client-${nodeId}`,
  name: `name-${nodeId}`,
  ownerId,
});

export function accountTests(ctx: SuiteContext): void {
  test("workers: create with defaults, get, update a patch, list in creation order", async () => {
    const repo = ctx.repo();
    const created = await repo.createWorker(worker("n2", "owner-1"), 200);
    await repo.createWorker(worker("n1"), 100);
    expect(created).toEqual({
      nodeId: "n2",
      clientId: "client-n2",
      name: "name-n2",
      ownerId: "owner-1",
      status: "offline",
      info: null,
      instanceId: null,
      lastHeartbeatAt: null,
      createdAt: 200,
      revokedAt: null,
      trust: 1,
      quarantinedAt: null,
      quarantineReason: null,
      auditMatches: 0,
      auditMismatches: 0,
    });
    expect(await repo.getWorker("n2")).toEqual(created);
    expect(await repo.getWorker("nope")).toBeNull();

    const info = { gpu_info: [{ name: "RTX 4090", vram_mb: 24_564 }], capabilities: ["llama"], version: "1.0.0", os: "linux" };
    await repo.updateWorker("n2", { status: "busy", info, instanceId: "coord-a", lastHeartbeatAt: 250, trust: 0.25 });
    await repo.updateWorker("n2", { name: "renamed", status: undefined });
    await repo.updateWorker("n2", {});
    await repo.updateWorker("unknown", { status: "idle" });
    expect(await repo.getWorker("n2")).toEqual({
      ...created,
      name: "renamed",
      status: "busy",
      info,
      instanceId: "coord-a",
      lastHeartbeatAt: 250,
      trust: 0.25,
    });
    await repo.updateWorker("n2", { info: null });
    expect((await repo.getWorker("n2"))?.info).toBeNull();
    expect((await repo.listWorkers()).map((w) => w.nodeId)).toEqual(["n1", "n2"]);
    await expect(repo.createWorker(worker("n1"), 300)).rejects.toThrow();
  });

  test("markStaleWorkersOffline: only connected workers whose heartbeat is older than `before`", async () => {
    const repo = ctx.repo();
    for (const id of ["fresh", "stale", "stale-busy", "never", "gone"]) await repo.createWorker(worker(id), 10);
    await repo.updateWorker("fresh", { status: "online", lastHeartbeatAt: 1_000, instanceId: "a" });
    await repo.updateWorker("stale", { status: "online", lastHeartbeatAt: 100, instanceId: "a" });
    await repo.updateWorker("stale-busy", { status: "busy", lastHeartbeatAt: 999, instanceId: "b" });
    await repo.updateWorker("never", { status: "idle" });
    await repo.updateWorker("gone", { lastHeartbeatAt: 5 });

    expect(await repo.markStaleWorkersOffline(1_000)).toEqual(["never", "stale", "stale-busy"]);
    expect(await repo.getWorker("stale")).toMatchObject({ status: "offline", instanceId: null, lastHeartbeatAt: 100 });
    expect(await repo.getWorker("fresh")).toMatchObject({ status: "online", instanceId: "a" });
    expect(await repo.markStaleWorkersOffline(1_000)).toEqual([]);
  });

  test("certificates: insert, get, revokeWorker revokes every cert of the node and the node; listRevoked", async () => {
    const repo = ctx.repo();
    await repo.createWorker(worker("n1"), 1);
    await repo.createWorker(worker("n2"), 1);
    const cert = (serial: string, nodeId: string) => ({ serial, nodeId, pem: `PEM ${serial}`, notBefore: 1_000, notAfter: 2_000 });
    await repo.insertCertificate(cert("s1", "n1"));
    await repo.insertCertificate(cert("s2", "n1"));
    await repo.insertCertificate(cert("s3", "n2"));
    await expect(repo.insertCertificate(cert("s4", "no-such-node"))).rejects.toThrow();
    expect(await repo.getCertificate("s1")).toEqual({ ...cert("s1", "n1"), revokedAt: null, revokeReason: null });
    expect(await repo.getCertificate("nope")).toBeNull();
    expect(await repo.listRevokedCertificates()).toEqual([]);

    expect(await repo.revokeWorker("n1", "stolen laptop", 5_000)).toEqual(["s1", "s2"]);
    expect(await repo.getCertificate("s2")).toMatchObject({ revokedAt: 5_000, revokeReason: "stolen laptop" });
    expect(await repo.getCertificate("s3")).toMatchObject({ revokedAt: null });
    expect((await repo.getWorker("n1"))?.revokedAt).toBe(5_000);
    expect((await repo.getWorker("n2"))?.revokedAt).toBeNull();

    // Revoking again keeps the first time and reason.
    expect(await repo.revokeWorker("n1", "again", 6_000)).toEqual(["s1", "s2"]);
    const revoked = await repo.listRevokedCertificates();
    expect(revoked.map((c) => [c.serial, c.revokedAt, c.revokeReason])).toEqual([
      ["s1", 5_000, "stolen laptop"],
      ["s2", 5_000, "stolen laptop"],
    ]);
    expect((await repo.getWorker("n1"))?.revokedAt).toBe(5_000);
    expect(await repo.revokeWorker("unknown", "x", 1)).toEqual([]);
  });

  test("enrolment tokens: single use, expiry, unknown", async () => {
    const repo = ctx.repo();
    await repo.createEnrolmentToken({ tokenHash: "h1", label: "lab", ownerId: "o1", createdAt: 100, expiresAt: 1_000 });
    await repo.createEnrolmentToken({ tokenHash: "h2", label: null, ownerId: null, createdAt: 200, expiresAt: 500 });

    const ok = await repo.consumeEnrolmentToken("h1", "node-a", 400);
    expect(ok).toEqual({
      ok: true,
      token: { tokenHash: "h1", label: "lab", ownerId: "o1", createdAt: 100, expiresAt: 1_000, usedAt: 400, usedByNodeId: "node-a" },
    });
    expect(await repo.consumeEnrolmentToken("h1", "node-b", 401)).toEqual({ ok: false, reason: "used" });
    expect(await repo.consumeEnrolmentToken("h2", "node-b", 500)).toEqual({ ok: false, reason: "expired" });
    expect(await repo.consumeEnrolmentToken("nope", "node-b", 1)).toEqual({ ok: false, reason: "unknown" });

    const tokens = await repo.listEnrolmentTokens();
    expect(tokens.map((t) => [t.tokenHash, t.usedAt, t.usedByNodeId])).toEqual([
      ["h1", 400, "node-a"],
      ["h2", null, null],
    ]);
  });

  test("enrolment tokens: 20 concurrent consumers of one token, exactly one succeeds", async () => {
    const repos = await ctx.instances(4);
    await repos[0]!.createEnrolmentToken({ tokenHash: "race", label: null, ownerId: null, createdAt: 1, expiresAt: 10_000 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => repos[i % repos.length]!.consumeEnrolmentToken("race", `node-${i}`, 100)),
    );
    const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === "used")).toHaveLength(19);
    const [token] = await repos[1]!.listEnrolmentTokens();
    expect(token?.usedByNodeId).toBe(`node-${winners[0]}`);
  });

  test("API keys: create, find by hash, usage accumulates (also concurrently), revoke once", async () => {
    const repo = ctx.repo();
    await repo.createApiKey({ id: "k1", keyHash: "hash-1", name: "first", createdAt: 10 });
    await repo.createApiKey({ id: "k2", keyHash: "hash-2", name: "second", createdAt: 20 });
    await expect(repo.createApiKey({ id: "k3", keyHash: "hash-1", name: "dup", createdAt: 30 })).rejects.toThrow();
    expect(await repo.findApiKeyByHash("hash-1")).toEqual({
      id: "k1",
      keyHash: "hash-1",
      name: "first",
      createdAt: 10,
      revokedAt: null,
      promptTokens: 0,
      completionTokens: 0,
      costMicros: 0,
    });
    expect(await repo.findApiKeyByHash("nope")).toBeNull();

    await repo.addApiKeyUsage("k1", 10, 20, 3_000_000_000);
    await Promise.all(Array.from({ length: 10 }, () => repo.addApiKeyUsage("k1", 1, 2, 5)));
    expect(await repo.findApiKeyByHash("hash-1")).toMatchObject({ promptTokens: 20, completionTokens: 40, costMicros: 3_000_000_050 });
    expect((await repo.findApiKeyByHash("hash-2"))?.promptTokens).toBe(0);

    expect(await repo.revokeApiKey("k1", 99)).toBe(true);
    expect(await repo.revokeApiKey("k1", 100)).toBe(false);
    expect(await repo.revokeApiKey("nope", 100)).toBe(false);
    expect((await repo.listApiKeys()).map((k) => [k.id, k.revokedAt])).toEqual([
      ["k1", 99],
      ["k2", null],
    ]);
  });

  test("models: upsert inserts then updates (keeping createdAt), list by id, remove", async () => {
    const repo = ctx.repo();
    const big = {
      id: "zeta",
      source: "https://example.com/z.gguf",
      sha256: "a".repeat(64),
      sizeBytes: 8_000_000_000,
      contextLength: null,
      createdAt: 5,
    };
    const small = { id: "alpha", source: "/models/a.gguf", sha256: "b".repeat(64), sizeBytes: 1_200, contextLength: 512, createdAt: 6 };
    await repo.upsertModel(big);
    await repo.upsertModel(small);
    expect(await repo.getModel("zeta")).toEqual(big);
    await repo.upsertModel({ ...small, source: "/models/a2.gguf", sha256: "c".repeat(64), contextLength: 2048, createdAt: 60 });
    expect(await repo.getModel("alpha")).toEqual({ ...small, source: "/models/a2.gguf", sha256: "c".repeat(64), contextLength: 2048 });
    expect((await repo.listModels()).map((m) => m.id)).toEqual(["alpha", "zeta"]);
    expect(await repo.removeModel("alpha")).toBe(true);
    expect(await repo.removeModel("alpha")).toBe(false);
    expect(await repo.getModel("alpha")).toBeNull();
  });

  test("ledger: one credit per job, also when credited concurrently; metric samples insert", async () => {
    const repo = ctx.repo();
    const entry = {
      jobId: "j1",
      nodeId: "n1",
      ownerId: "o1",
      model: "m1",
      promptTokens: 5,
      completionTokens: 7,
      amountMicros: 1_234,
      at: 10,
    };
    expect(await repo.creditLedger(entry)).toBe(true);
    expect(await repo.creditLedger({ ...entry, amountMicros: 9_999, at: 11 })).toBe(false);

    const repos = await ctx.instances(3);
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => repos[i % 3]!.creditLedger({ ...entry, jobId: "j2", at: i })));
    expect(results.filter(Boolean)).toHaveLength(1);

    await repo.insertMetricSamples([]);
    const samples = Array.from({ length: 1_200 }, (_, i) => ({
      name: "gogrid_tokens",
      labels: { node: `n${i % 3}` },
      value: i / 2,
      at: i,
    }));
    await repo.insertMetricSamples(samples);
  });
}

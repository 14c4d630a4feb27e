// Shared repository tests for result verification (issue 9): placement, trust and quarantine, audits, canaries.
import { expect, test } from "bun:test";
import type { Repository, TrustPolicy } from "../repository.ts";
import { lease, newJob, type SuiteContext } from "./context.ts";

/** trust = (8 + m) / (8 + m + x); quarantined below 0.7: 4 straight mismatches. */
const POLICY: TrustPolicy = { score: (m, x) => (8 + m) / (8 + m + x), threshold: 0.7 };

export function auditTests(ctx: SuiteContext): void {
  test("placement: a target worker, avoided workers (LIKE wildcards taken literally), a worker class", async () => {
    const repo = ctx.repo();
    await repo.enqueueJob(newJob("pinned", 1, { purpose: "canary", targetWorker: "w1" }));
    await repo.enqueueJob(newJob("avoid", 2, { purpose: "audit", avoidWorkers: ["w1", "a_c"], workerClass: "cuda/x64" }));
    expect((await repo.getJob("avoid"))?.avoidWorkers).toEqual(["w1", "a_c"]);
    expect(await repo.getJob("pinned")).toMatchObject({ purpose: "canary", targetWorker: "w1", avoidWorkers: [], workerClass: null });

    // w2 may not take the pinned one; the class-bound one needs its class
    expect(await repo.leaseNextJob(lease("w2", 10))).toBeNull();
    expect(await repo.leaseNextJob(lease("w2", 10, ["m1"]))).toBeNull();
    expect(await repo.leaseNextJob({ ...lease("w2", 10), workerClass: "cpu/x64" })).toBeNull();
    // "abc" is not "a_c" (an unescaped _ would match it)
    expect((await repo.leaseNextJob({ ...lease("abc", 10), workerClass: "cuda/x64" }))?.id).toBe("avoid");
    await repo.enqueueJob(newJob("avoid2", 3, { avoidWorkers: ["a_c"] }));
    expect(await repo.leaseNextJob(lease("a_c", 11))).toBeNull();
    expect((await repo.leaseNextJob(lease("w1", 12)))?.id).toBe("pinned");
    expect((await repo.leaseNextJob(lease("w1", 12)))?.id).toBe("avoid2");
    await expect(repo.enqueueJob(newJob("bad", 4, { avoidWorkers: ["x,y"] }))).rejects.toThrow(/cannot contain ","/);
  });

  test("recordTrust: counts and score; quarantined once, on the crossing call; release starts afresh", async () => {
    const repo = ctx.repo();
    await repo.createWorker({ nodeId: "n1", clientId: null, name: null, ownerId: null }, 1);
    expect(await repo.recordTrust("nope", { matches: 1, mismatches: 0 }, POLICY, "x", 5)).toBeNull();
    const m = await repo.recordTrust("n1", { matches: 1, mismatches: 0 }, POLICY, "x", 5);
    expect(m?.worker).toMatchObject({ auditMatches: 1, auditMismatches: 0, trust: 1, quarantinedAt: null });
    const seen: boolean[] = [];
    for (let i = 0; i < 6; i++)
      seen.push((await repo.recordTrust("n1", { matches: 0, mismatches: 1 }, POLICY, `bad ${i}`, 10 + i))!.quarantined);
    // (9)/(9+4) = 0.69 < 0.7 at the 4th mismatch
    expect(seen).toEqual([false, false, false, true, false, false]);
    const w = await repo.getWorker("n1");
    expect(w).toMatchObject({ auditMatches: 1, auditMismatches: 6, quarantinedAt: 13, quarantineReason: "bad 3" });
    expect(w?.trust).toBeCloseTo(9 / 15, 10);

    expect(await repo.releaseWorker("n1", POLICY)).toBe(true);
    expect(await repo.releaseWorker("n1", POLICY)).toBe(false);
    expect(await repo.getWorker("n1")).toMatchObject({
      auditMatches: 0,
      auditMismatches: 0,
      trust: 1,
      quarantinedAt: null,
      quarantineReason: null,
    });
  });

  test("leaseNextJob never hands a job to a quarantined worker; countOnlineWorkers leaves it (and offline, revoked) out", async () => {
    const repo = ctx.repo();
    for (const id of ["q1", "ok1", "rv1", "off1"]) await repo.createWorker({ nodeId: id, clientId: null, name: null, ownerId: null }, 1);
    for (const id of ["q1", "ok1", "rv1"]) await repo.updateWorker(id, { status: "idle" });
    expect(await repo.countOnlineWorkers()).toBe(3);
    for (let i = 0; i < 4; i++) await repo.recordTrust("q1", { matches: 0, mismatches: 1 }, POLICY, "bad", 5 + i);
    await repo.revokeWorker("rv1", "test", 9);
    expect(await repo.countOnlineWorkers()).toBe(1);
    await repo.enqueueJob(newJob("j", 10));
    expect(await repo.leaseNextJob(lease("q1", 11))).toBeNull();
    expect(await repo.releaseWorker("q1", POLICY)).toBe(true);
    expect((await repo.leaseNextJob(lease("q1", 12)))?.id).toBe("j");
    expect(await repo.countOnlineWorkers()).toBe(2);
  });

  test("audits: insert once, compare-and-set updates, found by any of its jobs, listed by status and worker", async () => {
    const repo = ctx.repo();
    expect(await repo.insertAudit({ id: "j1", kind: "audit", model: "m1", status: "waiting", createdAt: 1 })).toBe(true);
    expect(await repo.insertAudit({ id: "j1", kind: "audit", model: "m1", status: "running", createdAt: 2 })).toBe(false);
    await repo.insertAudit({ id: "c1", kind: "canary", model: "m1", status: "running", subjectWorker: "w3", canaryId: "k", createdAt: 3 });
    expect(await repo.getAudit("j1")).toEqual({
      id: "j1",
      kind: "audit",
      model: "m1",
      workerClass: null,
      subjectWorker: null,
      auditJobId: null,
      auditWorker: null,
      tiebreakJobId: null,
      tiebreakWorker: null,
      canaryId: null,
      status: "waiting",
      culprit: null,
      detail: null,
      createdAt: 1,
      resolvedAt: null,
    });
    // two instances race to start it: one wins
    const claims = await Promise.all([
      repo.updateAudit("j1", ["waiting"], { status: "running", subjectWorker: "w1", auditJobId: "a1" }),
      repo.updateAudit("j1", ["waiting"], { status: "running", subjectWorker: "w1", auditJobId: "a2" }),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    const auditJob = (claims.find(Boolean) as { auditJobId: string }).auditJobId;
    expect((await repo.findAuditByJob(auditJob))?.id).toBe("j1");
    expect(await repo.updateAudit("j1", ["running"], { status: "tiebreak", auditWorker: "w2", tiebreakJobId: "t1" })).toMatchObject({
      status: "tiebreak",
      auditWorker: "w2",
    });
    expect((await repo.findAuditByJob("t1"))?.id).toBe("j1");
    expect((await repo.findAuditByJob("j1"))?.id).toBe("j1");
    expect(await repo.findAuditByJob("zzz")).toBeNull();
    await repo.updateAudit("j1", ["tiebreak"], { status: "mismatch", culprit: "w2", tiebreakWorker: "w4", resolvedAt: 9 });
    expect(await repo.updateAudit("j1", ["tiebreak"], { status: "match" })).toBeNull();

    expect((await repo.listAudits()).map((a) => a.id)).toEqual(["c1", "j1"]);
    expect((await repo.listAudits({ status: ["mismatch"] })).map((a) => a.id)).toEqual(["j1"]);
    for (const w of ["w1", "w2", "w4"]) expect((await repo.listAudits({ workerId: w })).map((a) => a.id)).toEqual(["j1"]);
    expect((await repo.listAudits({ workerId: "w3" })).map((a) => a.id)).toEqual(["c1"]);
    expect(await repo.listAudits({ limit: 1 })).toHaveLength(1);
  });

  test("canaries: add, list (by model), remove", async () => {
    const repo = ctx.repo();
    const row = (id: string, model: string, at: number) => ({
      id,
      model,
      prompt: `p ${id}`,
      expected: `e ${id}`,
      maxTokens: 32,
      workerClass: id === "b" ? "cuda/x64" : null,
      createdAt: at,
    });
    await repo.addCanary(row("b", "m1", 2));
    await repo.addCanary(row("a", "m1", 1));
    await repo.addCanary(row("c", "m2", 3));
    expect((await repo.listCanaries()).map((c) => c.id)).toEqual(["a", "b", "c"]);
    expect(await repo.listCanaries("m1")).toEqual([row("a", "m1", 1), row("b", "m1", 2)]);
    expect(await repo.removeCanary("a")).toBe(true);
    expect(await repo.removeCanary("a")).toBe(false);
    expect((await repo.listCanaries("m1")).map((c) => c.id)).toEqual(["b"]);
  });

  test("recordTrust from several instances at once: no outcome is lost, one call quarantines", async () => {
    const repos = await ctx.instances(3);
    await repos[0]!.createWorker({ nodeId: "n1", clientId: null, name: null, ownerId: null }, 1);
    const call = (i: number, delta: { matches: number; mismatches: number }) =>
      (repos[i % 3] as Repository).recordTrust("n1", delta, POLICY, `r${i}`, i);
    await Promise.all(Array.from({ length: 10 }, (_, i) => call(i, { matches: 1, mismatches: 0 })));
    expect(await repos[1]!.getWorker("n1")).toMatchObject({ auditMatches: 10, auditMismatches: 0, quarantinedAt: null });
    // (8 + 10) / (18 + x) < 0.7 from the 8th mismatch on: of 9 concurrent ones, exactly one quarantines
    const more = await Promise.all(Array.from({ length: 9 }, (_, i) => call(i, { matches: 0, mismatches: 1 })));
    expect(more.filter((r) => r?.quarantined)).toHaveLength(1);
    expect(await repos[2]!.getWorker("n1")).toMatchObject({ auditMatches: 10, auditMismatches: 9 });
  });
}

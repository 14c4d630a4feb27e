// The scheduler's queued-job hint (issue 10): no lease statements without a job said to be waiting, and the tick strands nothing.
import { expect, test } from "bun:test";
import type { JobRow, Repository } from "../db/repository.ts";
import { openSqliteRepository } from "../db/sqlite-repository.ts";
import { LocalBus } from "./bus.ts";
import { Scheduler, type WorkerSlot } from "./scheduler.ts";

const settle = () => new Promise((r) => setTimeout(r, 20));

function slot(nodeId: string, capacity = 4): WorkerSlot & { got: JobRow[] } {
  const got: JobRow[] = [];
  return {
    nodeId,
    status: "idle",
    capacity,
    get running() {
      return got.length;
    },
    models: ["m1"],
    got,
    assign: (job) => {
      got.push(job);
    },
  };
}

async function setup(leaseBatchLimit?: number) {
  const repo = openSqliteRepository(":memory:");
  await repo.upsertModel({ id: "m1", source: "/m1.gguf", sha256: "0".repeat(64), sizeBytes: 1, contextLength: null, createdAt: 1 });
  for (const id of ["w1", "w2"]) await repo.createWorker({ nodeId: id, clientId: null, name: null, ownerId: null }, 1);
  let leases = 0;
  let placedChecks = 0;
  const counted = new Proxy(repo, {
    get(target, prop, receiver) {
      if (prop === "leaseBatchLimit" && leaseBatchLimit !== undefined) return leaseBatchLimit;
      if (prop === "leaseNextJobs") {
        return (...a: Parameters<Repository["leaseNextJobs"]>) => {
          leases++;
          return target.leaseNextJobs(...a);
        };
      }
      if (prop === "hasPlacedJobs") {
        return (...a: Parameters<Repository["hasPlacedJobs"]>) => {
          placedChecks++;
          return target.hasPlacedJobs(...a);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const bus = new LocalBus();
  const slots = [slot("w1"), slot("w2")];
  const scheduler = new Scheduler(counted, bus, { leaseMs: 10_000, retryBaseMs: 1000, offlineAfterMs: 60_000 }, () => slots);
  const enqueue = (id: string) =>
    repo.enqueueJob({ id, apiKeyId: null, model: "m1", request: {}, timeoutMs: 1000, originInstance: "i1", now: Date.now() - 1 });
  return { repo, bus, slots, scheduler, enqueue, leases: () => leases, placedChecks: () => placedChecks };
}

test("job_available leases each job once; triggers without one (results, heartbeats) run no lease statement", async () => {
  const { repo, bus, slots, scheduler, enqueue, leases } = await setup();
  await settle();
  for (const id of ["a", "b", "c"]) {
    await enqueue(id);
    await bus.publish({ kind: "job_available" });
  }
  await settle();
  expect(slots.flatMap((s) => s.got.map((j) => j.id)).sort()).toEqual(["a", "b", "c"]);
  const after = leases();
  for (let i = 0; i < 5; i++) scheduler.trigger();
  await settle();
  expect(leases()).toBe(after);
  scheduler.close();
  await repo.close();
});

test("workers with nothing cached yet: each job takes one lease statement, no empty lease and no placed-jobs query", async () => {
  const { repo, bus, slots, scheduler, enqueue, leases, placedChecks } = await setup();
  for (const s of slots) s.models = [];
  await scheduler.tick(); // the queue is empty: the hint is cleared
  await settle();
  const before = { leases: leases(), placed: placedChecks() };
  for (const id of ["a", "b"]) {
    await enqueue(id);
    await bus.publish({ kind: "job_available" });
  }
  await settle();
  expect(slots.flatMap((s) => s.got.map((j) => j.id)).sort()).toEqual(["a", "b"]);
  expect(leases() - before.leases).toBe(2);
  expect(placedChecks() - before.placed).toBe(0);
  scheduler.close();
  await repo.close();
});

test("jobs waiting together are leased several per statement (Postgres's limit), shared among the free slots within their capacity", async () => {
  const { repo, bus, slots, scheduler, enqueue, leases } = await setup(32);
  await scheduler.tick(); // the queue is empty: the hint is cleared
  await settle();
  const ids = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
  for (const id of ids) await enqueue(id);
  const before = leases();
  for (const _ of ids) void bus.publish({ kind: "job_available" });
  await settle();
  // 2 slots of 4: 8 leased, in fewer statements than jobs, 4 each; 2 wait for a slot to free
  expect(slots.map((s) => s.got.length)).toEqual([4, 4]);
  expect(leases() - before).toBeLessThan(8);
  expect(await repo.countJobs("queued")).toBe(2);
  const fences = slots.flatMap((s) => s.got.map((j) => j.fence));
  expect(new Set(fences).size).toBe(8);
  scheduler.close();
  await repo.close();
});

test("a job nobody announced (another process, a batch requeue) is leased by the tick's pass", async () => {
  const { repo, slots, scheduler, enqueue } = await setup();
  await scheduler.tick(); // the queue is empty: the hint is cleared
  await settle();
  await enqueue("quiet");
  scheduler.trigger();
  await settle();
  expect(slots.flatMap((s) => s.got)).toEqual([]);
  await scheduler.tick();
  await settle();
  expect(slots.flatMap((s) => s.got.map((j) => j.id))).toEqual(["quiet"]);
  scheduler.close();
  await repo.close();
});

test("a quarantined worker's slot gets nothing, and gets jobs again as soon as it is released", async () => {
  const { repo, bus, slots, scheduler, enqueue } = await setup();
  const policy = { score: (m: number, x: number) => (8 + m) / (8 + m + x), threshold: 0.7 };
  for (let i = 0; i < 4; i++) await repo.recordTrust("w1", { matches: 0, mismatches: 1 }, policy, "bad", 1);
  await scheduler.tick();
  await settle();
  for (const id of ["x1", "x2", "x3"]) {
    await enqueue(id);
    await bus.publish({ kind: "job_available" });
  }
  await settle();
  expect(slots[0]?.got).toEqual([]);
  expect(slots[1]?.got.map((j) => j.id)).toEqual(["x1", "x2", "x3"]);
  (slots[1] as WorkerSlot).status = "paused"; // only w1 could take the next job
  await repo.releaseWorker("w1", policy); // by gogrid-admin, no event: the next lease sees it
  await enqueue("y");
  await bus.publish({ kind: "job_available" });
  await settle();
  expect(slots[0]?.got.map((j) => j.id)).toEqual(["y"]);
  scheduler.close();
  await repo.close();
});

test("with a lease batch limit of one (SQLite) each job takes its own lease statement", async () => {
  const { repo, bus, slots, scheduler, enqueue, leases } = await setup();
  expect(repo.leaseBatchLimit).toBe(1);
  await scheduler.tick();
  await settle();
  const ids = ["a", "b", "c", "d", "e"];
  for (const id of ids) await enqueue(id);
  const before = leases();
  for (const _ of ids) void bus.publish({ kind: "job_available" });
  await settle();
  expect(slots.flatMap((s) => s.got.map((j) => j.id)).sort()).toEqual(ids);
  expect(leases() - before).toBe(5);
  scheduler.close();
  await repo.close();
});

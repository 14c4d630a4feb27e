// HeartbeatBook: beats batched into one write per flush, status changes at once, silent workers still go offline.
import { describe, expect, test } from "bun:test";
import type { Repository } from "../db/repository.ts";
import { freshSqlite } from "../db/testing.ts";
import { HeartbeatBook } from "./heartbeats.ts";

async function withBook(fn: (repo: Repository, book: HeartbeatBook, writes: () => number) => Promise<void>): Promise<void> {
  const repo = freshSqlite();
  let writes = 0;
  const counted = Object.create(repo) as Repository;
  counted.touchWorkers = async (ids, status, at) => {
    writes++;
    return repo.touchWorkers(ids, status, at);
  };
  counted.updateWorker = async (id, patch) => {
    writes++;
    return repo.updateWorker(id, patch);
  };
  const errors: Error[] = [];
  const book = new HeartbeatBook(counted, (e) => errors.push(e), 0); // flushed by the test
  try {
    for (const id of ["n1", "n2", "n3"]) {
      await repo.createWorker({ nodeId: id, clientId: `c-${id}`, name: id, ownerId: null }, 0);
      await repo.updateWorker(id, { status: "idle", lastHeartbeatAt: 1_000 });
      book.registered(id, "idle");
    }
    await fn(repo, book, () => writes);
    expect(errors).toEqual([]);
  } finally {
    await book.stop();
    await repo.close();
  }
}

const heard = async (repo: Repository, id: string) => {
  const w = await repo.getWorker(id);
  return { status: w?.status, at: w?.lastHeartbeatAt };
};

describe("HeartbeatBook", () => {
  test("beats with an unchanged status wait for the flush, which writes each status in one statement", () =>
    withBook(async (repo, book, writes) => {
      await book.beat("n1", "idle", 2_000);
      await book.beat("n2", "idle", 2_400);
      // its earlier unwritten beat is the one that counts; nothing to wait for (no promise made)
      expect(book.beat("n1", "idle", 2_900)).toBeUndefined();
      expect(writes()).toBe(0);
      expect(await heard(repo, "n1")).toEqual({ status: "idle", at: 1_000 });
      expect(book.pendingCount).toBe(2);
      await book.flush();
      expect(writes()).toBe(1);
      // the earliest beat of the batch: the database never says a worker was heard later than it was
      expect(await heard(repo, "n1")).toEqual({ status: "idle", at: 2_000 });
      expect(await heard(repo, "n2")).toEqual({ status: "idle", at: 2_000 });
      expect(await heard(repo, "n3")).toEqual({ status: "idle", at: 1_000 });
      await book.flush();
      expect(writes()).toBe(1); // nothing pending, nothing written
    }));

  test("a changed status is written at once, and a stale batch cannot undo it", () =>
    withBook(async (repo, book, writes) => {
      await book.beat("n1", "idle", 2_000);
      const flushing = book.flush(); // holds n1 → idle
      await book.beat("n1", "busy", 2_100);
      await flushing;
      expect(await heard(repo, "n1")).toEqual({ status: "busy", at: 2_100 });
      expect(writes()).toBe(2);
      await book.beat("n1", "busy", 3_000);
      await book.flush();
      expect(await heard(repo, "n1")).toEqual({ status: "busy", at: 3_000 });
    }));

  test("a worker that goes silent still goes offline; those still beating do not", () =>
    withBook(async (repo, book) => {
      const offlineAfter = 45_000;
      let now = 1_000;
      // n1 and n2 beat every 15 s; n3 falls silent after its registration at 1 000
      for (let i = 0; i < 6; i++) {
        now += 15_000;
        await book.beat("n1", "idle", now);
        await book.beat("n2", "idle", now + 300);
        await book.flush();
        expect(await repo.markStaleWorkersOffline(now + 999 - offlineAfter)).toEqual(now + 999 - offlineAfter > 1_000 ? ["n3"] : []);
        if (now + 999 - offlineAfter > 1_000) break;
      }
      expect((await heard(repo, "n1")).status).toBe("idle");
      expect((await heard(repo, "n2")).status).toBe("idle");
      expect((await heard(repo, "n3")).status).toBe("offline");
    }));

  test("forget: a closed worker's unwritten beat never revives it", () =>
    withBook(async (repo, book) => {
      await book.beat("n1", "idle", 2_000);
      await book.forget("n1");
      await repo.updateWorker("n1", { status: "offline", instanceId: null }); // as the session does on close
      await book.flush();
      expect(await heard(repo, "n1")).toEqual({ status: "offline", at: 1_000 });
      // it reconnects: registered again, its beats batch again
      await repo.updateWorker("n1", { status: "idle", lastHeartbeatAt: 5_000 });
      book.registered("n1", "idle");
      await book.beat("n1", "idle", 6_000);
      await book.flush();
      expect(await heard(repo, "n1")).toEqual({ status: "idle", at: 6_000 });
    }));

  test("a failed batch is reported; the next beats are written", async () => {
    const repo = freshSqlite();
    await repo.createWorker({ nodeId: "n1", clientId: "c", name: "n1", ownerId: null }, 0);
    const broken = Object.create(repo) as Repository;
    let fail = true;
    broken.touchWorkers = async (ids, status, at) => {
      if (fail) throw new Error("database away");
      return repo.touchWorkers(ids, status, at);
    };
    const errors: string[] = [];
    const book = new HeartbeatBook(broken, (e) => errors.push(e.message), 0);
    book.registered("n1", "idle");
    await book.beat("n1", "idle", 2_000);
    await book.flush();
    expect(errors).toEqual(["database away"]);
    fail = false;
    await book.beat("n1", "idle", 3_000);
    await book.stop(); // writes what is pending
    expect((await repo.getWorker("n1"))?.lastHeartbeatAt).toBe(3_000);
    await repo.close();
  });

  test("with a timer: pending beats are written within flushMs", async () => {
    const repo = freshSqlite();
    await repo.createWorker({ nodeId: "n1", clientId: "c", name: "n1", ownerId: null }, 0);
    const book = new HeartbeatBook(
      repo,
      (e) => {
        throw e;
      },
      50,
    );
    book.registered("n1", "idle");
    await book.beat("n1", "idle", 7_000);
    await Bun.sleep(200);
    expect((await repo.getWorker("n1"))?.lastHeartbeatAt).toBe(7_000);
    await book.stop();
    await repo.close();
  });
});

// Group commit: one transaction per turn, settled after the commit; a failing call undoes only itself.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseError } from "./errors.ts";
import type { NewJob } from "./repository.ts";
import { GroupCommit } from "./sqlite-group-commit.ts";
import { openSqliteRepository, SQLITE_READS, SqliteRepository } from "./sqlite-repository.ts";

const work = mkdtempSync(join(tmpdir(), "gogrid-group-commit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const file = () => join(work, `db-${++n}.sqlite`);

/** A WAL database with one table, and a second connection that sees only what was committed. */
function twoConnections() {
  const path = file();
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("create table t (x integer primary key, parent integer references t(x) deferrable initially deferred)");
  db.run("PRAGMA foreign_keys = ON");
  const other = new Database(path, { readonly: true });
  const seen = () => (other.query("select x from t order by x").all() as { x: number }[]).map((r) => r.x);
  return { path, db, seen, insert: (x: number, parent: number | null = null) => db.run("insert into t values (?, ?)", [x, parent]) };
}

const job = (id: string): NewJob => ({
  id,
  apiKeyId: null,
  model: "m",
  request: { prompt: "p" },
  timeoutMs: 60_000,
  originInstance: null,
  now: Date.now(),
});

describe("GroupCommit", () => {
  test("calls of one turn share one transaction, visible to others only once their promises settle", async () => {
    const { db, seen, insert } = twoConnections();
    const g = new GroupCommit(db, null);
    const a = g.run("a", async () => insert(1));
    const b = g.run("b", async () => insert(2));
    expect(seen()).toEqual([]); // executed, not committed
    let settledEarly = false;
    void a.then(() => {
      settledEarly = seen().length !== 2;
    });
    await Promise.all([a, b]);
    expect(settledEarly).toBe(false);
    expect(seen()).toEqual([1, 2]);
    expect(g.commits).toBe(1);
    // the next turn gets a transaction of its own
    await g.run("c", async () => insert(3));
    expect(g.commits).toBe(2);
  });

  test("a call that throws undoes only its own writes; the turn's other calls commit", async () => {
    const { db, seen, insert } = twoConnections();
    const g = new GroupCommit(db, null);
    const ok = g.run("ok", async () => insert(1));
    const bad = g.run("bad", async () => {
      insert(2);
      insert(1); // primary key taken: the call fails after one write
    });
    await expect(bad).rejects.toThrow(/UNIQUE/);
    await ok;
    expect(seen()).toEqual([1]);
  });

  test("a failed commit rejects every call of the turn with db_commit_failed and leaves nothing behind", async () => {
    const { db, seen, insert } = twoConnections();
    const g = new GroupCommit(db, null);
    const a = g.run("a", async () => insert(1));
    const b = g.run("b", async () => insert(2, 99)); // a deferred foreign key: checked at COMMIT
    const errors = await Promise.allSettled([a, b]);
    for (const e of errors) {
      expect(e.status).toBe("rejected");
      const reason = (e as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(DatabaseError);
      expect(reason.code).toBe("db_commit_failed");
      expect(reason.message).toContain("2 call(s)");
    }
    expect(seen()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    await g.run("after", async () => insert(3)); // the next turn works again
    expect(seen()).toEqual([3]);
  });

  test("pause() holds writes until resume(), in order, once the open turn has committed; reads go on", async () => {
    const { db, seen, insert } = twoConnections();
    const g = new GroupCommit(db, null);
    const a = g.run("a", async () => insert(1));
    let paused = false;
    const pausing = g.pause().then(() => {
      paused = true;
    });
    expect(g.paused).toBe(true);
    const b = g.run("b", async () => insert(2));
    const c = g.run("c", async () => insert(3));
    await pausing;
    // the turn open when pause() was called committed; what came after it waits
    expect(paused).toBe(true);
    await a;
    expect(seen()).toEqual([1]);
    expect(db.inTransaction).toBe(false);
    expect(await g.read(async () => db.query("select count(*) n from t").get())).toEqual({ n: 1 });
    await Bun.sleep(5);
    expect(seen()).toEqual([1]);
    g.resume();
    expect(g.paused).toBe(false);
    await Promise.all([b, c]);
    expect(seen()).toEqual([1, 2, 3]);
    // the held calls ran in one turn's transaction, in the order they were made
    const order: number[] = [];
    await g.pause();
    const held = [4, 5, 6].map((x) => g.run(`h${x}`, async () => order.push(x)));
    g.resume();
    await Promise.all(held);
    expect(order).toEqual([4, 5, 6]);
  });

  test("a read outside a group settles at once; inside one it settles with the turn's commit", async () => {
    const { db, insert } = twoConnections();
    const g = new GroupCommit(db, null);
    const count = async () => (db.query("select count(*) n from t").get() as { n: number }).n;
    expect(Bun.peek.status(g.read(count))).toBe("fulfilled");
    const w = g.run("w", async () => insert(1));
    const r = g.read(count);
    expect(Bun.peek.status(r)).toBe("pending");
    expect(await r).toBe(1);
    await w;
  });

  test("a call that awaits is refused and rolled back to its start", async () => {
    const { db, seen, insert } = twoConnections();
    const g = new GroupCommit(db, null);
    const bad = g.run("awaits", async () => {
      insert(1);
      await Promise.resolve();
    });
    await expect(bad).rejects.toThrow("SQLite repository call awaits awaited inside the turn's transaction");
    await g.run("ok", async () => insert(2));
    expect(seen()).toEqual([2]);
  });

  test("two connections to one file in one process do not wait on each other's lock", async () => {
    const { path, db, seen, insert } = twoConnections();
    const db2 = new Database(path);
    db2.run("PRAGMA busy_timeout = 5000");
    const g1 = new GroupCommit(db, path);
    const g2 = new GroupCommit(db2, path);
    const t0 = performance.now();
    const a = g1.run("a", async () => insert(1));
    const b = g2.run("b", async () => db2.run("insert into t values (2, null)")); // commits g1's group first
    await Promise.all([a, b]);
    expect(performance.now() - t0).toBeLessThan(1000); // not the 5 s busy timeout
    expect(seen()).toEqual([1, 2]);
  });
});

describe("SqliteRepository with group commit", () => {
  test("jobs submitted in one turn are committed together; a duplicate id fails alone", async () => {
    const path = file();
    const repo = openSqliteRepository(path);
    const other = new Database(path, { readonly: true });
    const before = repo.commits;
    const a = repo.enqueueJob(job("a"));
    const dup = repo.enqueueJob(job("a"));
    const b = repo.enqueueJob(job("b"));
    expect(other.query("select count(*) n from jobs").get()).toEqual({ n: 0 });
    await expect(dup).rejects.toThrow(/UNIQUE/);
    expect((await a).id).toBe("a");
    expect((await b).id).toBe("b");
    expect(repo.commits - before).toBe(1);
    expect(other.query("select id from jobs order by id").all()).toEqual([{ id: "a" }, { id: "b" }]);
    other.close();
    await repo.close();
  });

  test("close() commits what the turn has written", async () => {
    const path = file();
    const repo = openSqliteRepository(path);
    const pending = repo.enqueueJob(job("x"));
    await repo.close();
    await pending;
    const reopened = new Database(path, { readonly: true });
    expect(reopened.query("select id from jobs").all()).toEqual([{ id: "x" }]);
    reopened.close();
  });

  test("close() during a hold of the writes lets the held ones through and commits them", async () => {
    const path = file();
    const repo = openSqliteRepository(path);
    const group = (repo as unknown as { group: GroupCommit }).group;
    await group.pause(); // as the checkpointer does for a WAL restart
    const held = repo.enqueueJob(job("held"));
    await repo.close();
    expect((await held).id).toBe("held");
    const reopened = new Database(path, { readonly: true });
    expect(reopened.query("select id from jobs").all()).toEqual([{ id: "held" }]);
    reopened.close();
  });

  test("every repository method is either a declared read or runs in the group", () => {
    const methods = Object.getOwnPropertyNames(SqliteRepository.prototype);
    for (const read of SQLITE_READS) expect(methods).toContain(read);
    // reads by name only: a new method that writes must not be named like one
    const looksLikeRead = methods.filter((m) => /^(get|list|find|count|has|ledger|uncredited)[A-Z]/.test(m));
    expect(looksLikeRead.sort()).toEqual([...SQLITE_READS].sort());
  });

  test("the declared reads change nothing", async () => {
    const repo = openSqliteRepository(file());
    await repo.upsertModel({ id: "m", source: "x", sha256: "0".repeat(64), sizeBytes: 1, contextLength: 64, createdAt: 1 });
    await repo.enqueueJob(job("j"));
    const raw = (repo as unknown as { client: Database }).client;
    const changes = () => (raw.query("select total_changes() n").get() as { n: number }).n;
    const calls: Record<(typeof SQLITE_READS)[number], () => Promise<unknown>> = {
      getWorker: () => repo.getWorker("w"),
      listWorkers: () => repo.listWorkers(),
      getCertificate: () => repo.getCertificate("s"),
      listRevokedCertificates: () => repo.listRevokedCertificates(),
      listEnrolmentTokens: () => repo.listEnrolmentTokens(),
      findApiKeyByHash: () => repo.findApiKeyByHash("h"),
      listApiKeys: () => repo.listApiKeys(),
      getModel: () => repo.getModel("m"),
      listModels: () => repo.listModels(),
      getJob: () => repo.getJob("j"),
      getJobs: () => repo.getJobs(["j", "x"]),
      listJobs: () => repo.listJobs(),
      uncreditedJobs: () => repo.uncreditedJobs({ since: 0, until: Date.now(), limit: 10 }),
      listAttempts: () => repo.listAttempts("j"),
      countJobs: () => repo.countJobs("queued"),
      countOnlineWorkers: () => repo.countOnlineWorkers(),
      hasPlacedJobs: () => repo.hasPlacedJobs(Date.now()),
      getPrice: () => repo.getPrice("m"),
      listPrices: () => repo.listPrices(),
      ledgerTotals: () => repo.ledgerTotals({}),
      ledgerTotalsByNode: () => repo.ledgerTotalsByNode(),
      ledgerByDay: () => repo.ledgerByDay({}, 0),
      listLedger: () => repo.listLedger({}),
      getAudit: () => repo.getAudit("a"),
      findAuditByJob: () => repo.findAuditByJob("j"),
      listAudits: () => repo.listAudits(),
      listCanaries: () => repo.listCanaries(),
    };
    const before = changes();
    for (const read of SQLITE_READS) await calls[read]();
    expect(changes()).toBe(before);
    await repo.close();
  });
});

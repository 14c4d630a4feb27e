// The background checkpointer: copies the WAL off the main thread, hands checkpoints back when it stops or cannot start.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository } from "./open.ts";
import { BACKGROUND_AUTO_CHECKPOINT_PAGES, Checkpointer } from "./sqlite-checkpoint.ts";
import { GroupCommit } from "./sqlite-group-commit.ts";

const work = mkdtempSync(join(tmpdir(), "gogrid-checkpoint-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const autoPages = (db: Database) => (db.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

test("the thread copies the WAL into the database file; stop() gives checkpoints back to the connection", async () => {
  const path = join(work, "a.sqlite");
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("create table t (x integer primary key, y text)");
  const logs: string[] = [];
  const c = await Checkpointer.start(db, path, { intervalMs: 10, log: (_l, m) => logs.push(m) });
  expect(c).not.toBeNull();
  const cp = c as Checkpointer;
  expect(cp.running).toBe(true);
  expect(autoPages(db)).toBe(BACKGROUND_AUTO_CHECKPOINT_PAGES);
  const insert = db.prepare("insert into t (y) values (?)");
  for (let i = 0; i < 2000; i++) insert.run("x".repeat(500));
  // ~250 pages written, far below the connection's own threshold: only the thread can have copied them
  await until("the thread to copy the WAL", () => cp.last.log > 0 && cp.last.checkpointed === cp.last.log);
  expect(cp.checkpoints).toBeGreaterThan(0);
  const reader = new Database(path, { readonly: true });
  expect(reader.query("select count(*) n from t").get()).toEqual({ n: 2000 });
  reader.close();
  await cp.stop();
  expect(cp.running).toBe(false);
  expect(autoPages(db)).toBe(1000);
  expect(logs).toEqual([]);
  db.close();
});

test("past restartAtFrames the writes are held while the thread copies the rest, and the WAL starts again from its beginning", async () => {
  const path = join(work, "restart.sqlite");
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("create table t (x integer primary key, y text)");
  const g = new GroupCommit(db, path);
  const c = (await Checkpointer.start(db, path, { intervalMs: 5, restartAtFrames: 300, writes: g })) as Checkpointer;
  expect(c).not.toBeNull();
  const insert = db.prepare("insert into t (y) values (?)");
  // one commit a turn, as under steady load, and nothing else: the WAL never finds itself copied by chance
  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      await g.run("insert", async () => insert.run("x".repeat(900)));
      written++;
    }
  })();
  let longest = 0;
  let restarted = false;
  await until(
    "a hold that restarted the WAL",
    () => {
      longest = Math.max(longest, c.last.log);
      // the WAL grew past the threshold, then the thread finds it short again: it was started anew
      restarted ||= c.holds.count > 0 && longest >= 300 && c.last.log < 300;
      return restarted && written > 2_000;
    },
    20_000,
  );
  writing = false;
  await writer;
  await c.stop();
  // every write made while the writes were held went through, once
  expect(db.query("select count(*) n from t").get()).toEqual({ n: written });
  expect(c.holds.count).toBeGreaterThan(0);
  expect(g.paused).toBe(false);
  db.close();
}, 30_000);

test("a thread that cannot open the database: start() returns null and SQLite's own checkpoints stay on", async () => {
  const db = new Database(":memory:");
  const logs: string[] = [];
  const c = await Checkpointer.start(db, join(work, "missing", "nope.sqlite"), { log: (_l, m) => logs.push(m) });
  expect(c).toBeNull();
  expect(autoPages(db)).toBe(1000);
  expect(logs.join("\n")).toContain("the checkpoint thread did not start");
  db.close();
});

test("openRepository: background checkpoints on a SQLite file, none for :memory:", async () => {
  const repo = await openRepository(join(work, "coordinator.sqlite"), { backgroundCheckpoints: {} });
  const sqlite = repo as unknown as { client: Database; checkpointInBackground(): Promise<Checkpointer | null> };
  const started = await sqlite.checkpointInBackground();
  expect(started?.running).toBe(true);
  expect(autoPages(sqlite.client)).toBe(BACKGROUND_AUTO_CHECKPOINT_PAGES);
  await repo.close();
  expect(started?.running).toBe(false);
  const mem = await openRepository(":memory:", { backgroundCheckpoints: {} });
  expect(await (mem as unknown as { checkpointInBackground(): Promise<Checkpointer | null> }).checkpointInBackground()).toBeNull();
  await mem.close();
});

// One Repository suite, run against SQLite and Postgres; plus SQLite persistence across reopen.
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository } from "./open.ts";
import type { Repository } from "./repository.ts";
import { SQLITE_MIGRATIONS } from "./sqlite-repository.ts";
import { accountTests } from "./suite/accounts.ts";
import { concurrencyTests } from "./suite/concurrency.ts";
import type { SuiteContext } from "./suite/context.ts";
import { jobTests } from "./suite/jobs.ts";
import { ledgerTests } from "./suite/ledger.ts";
import { type FreshPostgres, freshPostgresUrl, freshSqlite, postgresTestsDisabled } from "./testing.ts";

// Postgres: creating a database and migrating it takes a moment on a busy machine.
setDefaultTimeout(30_000);

const work = mkdtempSync(join(tmpdir(), "gogrid-db-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

for (const dialect of ["sqlite", "postgres"] as const) {
  const disabled = dialect === "postgres" ? postgresTestsDisabled() : null;
  if (disabled) {
    console.warn(`postgres repository tests disabled: ${disabled}`);
    continue;
  }

  describe(`Repository (${dialect})`, () => {
    let current: Repository | null = null;
    let extra: Repository[] = [];
    let pg: FreshPostgres | null = null;
    let pgMain: Repository | null = null;
    let setupError: Error | null = null;

    beforeAll(async () => {
      if (dialect !== "postgres") return;
      try {
        pg = await freshPostgresUrl();
        pgMain = await openRepository(pg.url);
      } catch (error) {
        setupError = error instanceof Error ? error : new Error(String(error));
      }
    });
    afterAll(async () => {
      await pgMain?.close();
      await pg?.drop();
    });
    beforeEach(async () => {
      if (dialect === "sqlite") current = freshSqlite();
      else if (pg && pgMain) {
        await pg.reset();
        current = pgMain;
      }
    });
    afterEach(async () => {
      if (dialect === "sqlite") await current?.close();
      current = null;
      await Promise.all(extra.map((r) => r.close()));
      extra = [];
    });

    const ctx: SuiteContext = {
      dialect,
      repo() {
        if (setupError) throw setupError;
        if (!current) throw new Error("no repository: setup failed");
        return current;
      },
      async instances(n) {
        if (setupError) throw setupError;
        const url = dialect === "postgres" ? pg!.url : join(mkdtempSync(join(work, "instances-")), "gogrid.db");
        // Opened together: on Postgres their start-up migrations also race (serialised by an advisory lock).
        const opened = await Promise.all(Array.from({ length: n }, () => openRepository(url)));
        extra.push(...opened);
        return opened;
      },
    };

    accountTests(ctx);
    jobTests(ctx);
    concurrencyTests(ctx);
    ledgerTests(ctx);
  });
}

describe("SQLite file persistence", () => {
  test("data survives close and reopen; migrations are recorded once and not re-applied", async () => {
    const file = join(work, "persist", "nested", "gogrid.db");
    const journal = JSON.parse(readFileSync(join(SQLITE_MIGRATIONS, "meta", "_journal.json"), "utf8")) as { entries: unknown[] };

    const first = await openRepository(`sqlite:${file}`);
    await first.createWorker({ nodeId: "n1", clientId: null, name: "box", ownerId: null }, 1);
    await first.enqueueJob({
      id: "j1",
      apiKeyId: null,
      model: "m",
      request: { prompt: "hi" },
      timeoutMs: 1_000,
      originInstance: null,
      now: 2,
    });
    await first.close();
    await first.close();

    for (const url of [file, `sqlite:${file}`, "gogrid.db"]) {
      const again = await openRepository(url, { dataDir: join(work, "persist", "nested") });
      expect((await again.getWorker("n1"))?.name).toBe("box");
      expect((await again.getJob("j1"))?.request).toEqual({ prompt: "hi" });
      await again.close();
    }

    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.query("select count(*) as n from __drizzle_migrations").get()).toEqual({ n: journal.entries.length });
      expect(raw.query("pragma journal_mode").get()).toEqual({ journal_mode: "wal" });
    } finally {
      raw.close();
    }
  });
});

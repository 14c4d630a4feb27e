// The result-verification part of the Repository (issue 9), against SQLite and Postgres.
import { afterAll, afterEach, beforeAll, beforeEach, describe, setDefaultTimeout } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository } from "./open.ts";
import type { Repository } from "./repository.ts";
import { auditTests } from "./suite/audits.ts";
import type { SuiteContext } from "./suite/context.ts";
import { type FreshPostgres, freshPostgresUrl, freshSqlite, postgresTestsDisabled } from "./testing.ts";

// Postgres: creating a database and migrating it takes a moment on a busy machine.
setDefaultTimeout(30_000);

const work = mkdtempSync(join(tmpdir(), "gogrid-audit-db-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

for (const dialect of ["sqlite", "postgres"] as const) {
  const disabled = dialect === "postgres" ? postgresTestsDisabled() : null;
  if (disabled) {
    console.warn(`postgres audit repository tests disabled: ${disabled}`);
    continue;
  }
  describe(`Repository, result verification (${dialect})`, () => {
    let current: Repository | null = null;
    let extra: Repository[] = [];
    let pg: FreshPostgres | null = null;
    let pgMain: Repository | null = null;

    beforeAll(async () => {
      if (dialect !== "postgres") return;
      pg = await freshPostgresUrl();
      pgMain = await openRepository(pg.url);
    });
    afterAll(async () => {
      await pgMain?.close();
      await pg?.drop();
    });
    beforeEach(async () => {
      if (dialect === "sqlite") current = freshSqlite();
      else {
        await pg?.reset();
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
        if (!current) throw new Error("no repository: setup failed");
        return current;
      },
      async instances(n) {
        const url = dialect === "postgres" ? (pg as FreshPostgres).url : join(mkdtempSync(join(work, "instances-")), "gogrid.db");
        const opened = await Promise.all(Array.from({ length: n }, () => openRepository(url)));
        extra.push(...opened);
        return opened;
      },
    };
    auditTests(ctx);
  });
}

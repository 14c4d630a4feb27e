// openRepository: URL forms, password redaction, and named errors for bad or unreachable databases.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseError, openRepository, redactUrl } from "./open.ts";
import { parseDatabaseUrl } from "./url.ts";

const work = mkdtempSync(join(tmpdir(), "gogrid-open-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("redactUrl", () => {
  test.each([
    ["postgres://gogrid:s3cret@db.example:5432/gogrid", "postgres://gogrid:***@db.example:5432/gogrid"],
    ["postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"],
    ["postgres://u:p@ss@h/db", "postgres://u:***@h/db"],
    ["postgres://u@h/db?password=hunter2&x=1", "postgres://u@h/db?password=***&x=1"],
    ["postgres://h/db", "postgres://h/db"],
    ["sqlite:/var/lib/gogrid/db.sqlite", "sqlite:/var/lib/gogrid/db.sqlite"],
  ])("%s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe("parseDatabaseUrl", () => {
  test("dialects and paths", () => {
    expect(parseDatabaseUrl("postgres://h/db")).toEqual({ dialect: "postgres", url: "postgres://h/db" });
    expect(parseDatabaseUrl("POSTGRESQL://h/db").dialect).toBe("postgres");
    expect(parseDatabaseUrl(":memory:")).toEqual({ dialect: "sqlite", path: ":memory:" });
    expect(parseDatabaseUrl("sqlite::memory:")).toEqual({ dialect: "sqlite", path: ":memory:" });
    expect(parseDatabaseUrl("sqlite:/abs/x.db")).toEqual({ dialect: "sqlite", path: "/abs/x.db" });
    expect(parseDatabaseUrl("sqlite:///abs/x.db")).toEqual({ dialect: "sqlite", path: "/abs/x.db" });
    expect(parseDatabaseUrl("sqlite:x.db", "/data")).toEqual({ dialect: "sqlite", path: "/data/x.db" });
    expect(parseDatabaseUrl("/abs/y.db", "/data")).toEqual({ dialect: "sqlite", path: "/abs/y.db" });
    expect(parseDatabaseUrl("rel/y.db", "/data")).toEqual({ dialect: "sqlite", path: "/data/rel/y.db" });
  });

  test("unknown schemes and empty URLs are refused with db_url_invalid, password redacted", () => {
    for (const url of ["mysql://root:topsecret@h/db", "", "sqlite:"]) {
      let caught: unknown;
      try {
        parseDatabaseUrl(url);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DatabaseError);
      expect((caught as DatabaseError).code).toBe("db_url_invalid");
      expect((caught as DatabaseError).message).not.toContain("topsecret");
    }
  });
});

describe("openRepository errors", () => {
  test("unreachable Postgres: db_unreachable naming the URL without its password", async () => {
    const error = await openRepository("postgres://gogrid:topsecret@127.0.0.1:1/gogrid").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("db_unreachable");
    expect((error as DatabaseError).message).toContain("postgres://gogrid:***@127.0.0.1:1/gogrid");
    expect((error as DatabaseError).message).not.toContain("topsecret");
  });

  test("a SQLite path that cannot be created: db_unreachable naming the path", async () => {
    const blocker = join(work, "a-file");
    writeFileSync(blocker, "not a folder");
    const error = await openRepository(`sqlite:${join(blocker, "sub", "x.db")}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("db_unreachable");
    expect((error as DatabaseError).message).toContain(blocker);
  });

  test("a file that is not a database: db_migration_failed", async () => {
    const junk = join(work, "junk.db");
    writeFileSync(junk, "this is not an SQLite database, just some text that is long enough ".repeat(20));
    const error = await openRepository(junk).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(["db_unreachable", "db_migration_failed"]).toContain((error as DatabaseError).code);
    expect((error as DatabaseError).message).toContain(junk);
  });

  test(":memory: opens a migrated, empty database", async () => {
    const repo = await openRepository(":memory:");
    expect(repo.dialect).toBe("sqlite");
    expect(await repo.listWorkers()).toEqual([]);
    await repo.close();
  });
});

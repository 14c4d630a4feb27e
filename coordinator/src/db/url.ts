// Database URLs: which dialect a URL names, and how to show one without its password.
import { isAbsolute, resolve } from "node:path";
import { DatabaseError } from "./errors.ts";

export type DatabaseTarget = { dialect: "sqlite"; path: string } | { dialect: "postgres"; url: string };

/**
 * `postgres://` / `postgresql://` → Postgres; `sqlite:<path>`, `:memory:` or a plain file path →
 * SQLite. A relative SQLite path is resolved against `dataDir` when given, else the working directory.
 */
export function parseDatabaseUrl(url: string, dataDir?: string): DatabaseTarget {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { dialect: "postgres", url: trimmed };
  let path = trimmed;
  if (/^sqlite:/i.test(path)) {
    path = path.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
  }
  if (path === "" || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new DatabaseError(
      "db_url_invalid",
      `database URL ${JSON.stringify(redactUrl(url))} is not understood: use postgres://user:password@host:5432/db, sqlite:<path>, a file path or :memory:`,
    );
  }
  if (path === ":memory:") return { dialect: "sqlite", path };
  return { dialect: "sqlite", path: isAbsolute(path) ? path : resolve(dataDir ?? ".", path) };
}

/** The URL with any password (userinfo or `password=` parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#]*(@)/i, "$1***$2").replace(/([?&](?:password|pass|pwd)=)[^&#]*/gi, "$1***");
}

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DashboardAuthError,
  dashboardPasswordIsSet,
  LoginLimiter,
  passwordFilePath,
  readCookie,
  SessionStore,
  sessionCookie,
  setDashboardPassword,
  verifyDashboardPassword,
} from "./auth.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "gogrid-dash-auth-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("dashboard password", () => {
  test("set, verify, stored hashed with mode 0600", async () => {
    const dir = tempDir();
    expect(await dashboardPasswordIsSet(dir)).toBe(false);
    expect(await verifyDashboardPassword(dir, "anything at all")).toBe(false);
    await setDashboardPassword(dir, "correct horse battery");
    expect(await dashboardPasswordIsSet(dir)).toBe(true);
    expect(await verifyDashboardPassword(dir, "correct horse battery")).toBe(true);
    expect(await verifyDashboardPassword(dir, "correct horse battery!")).toBe(false);
    expect(await verifyDashboardPassword(dir, "")).toBe(false);
    const text = await readFile(passwordFilePath(dir), "utf8");
    expect(text).not.toContain("correct horse");
    expect(JSON.parse(text).passwordHash).toStartWith("$argon2id$");
    expect(statSync(passwordFilePath(dir)).mode & 0o777).toBe(0o600);
  });

  test("a new password replaces the old one", async () => {
    const dir = tempDir();
    await setDashboardPassword(dir, "first password 1");
    await setDashboardPassword(dir, "second password 2");
    expect(await verifyDashboardPassword(dir, "first password 1")).toBe(false);
    expect(await verifyDashboardPassword(dir, "second password 2")).toBe(true);
  });

  test("shorter than 12 characters: a named error with a code", async () => {
    const dir = tempDir();
    const err = await setDashboardPassword(dir, "short").catch((e) => e);
    expect(err).toBeInstanceOf(DashboardAuthError);
    expect(err.code).toBe("password_too_short");
    expect(err.message).toContain("at least 12 characters");
    expect(await dashboardPasswordIsSet(dir)).toBe(false);
  });

  test("a damaged password file says how to fix it", async () => {
    const dir = tempDir();
    await writeFile(passwordFilePath(dir), "{ not json");
    const err = await verifyDashboardPassword(dir, "correct horse battery").catch((e) => e);
    expect(err).toBeInstanceOf(DashboardAuthError);
    expect(err.code).toBe("password_file_invalid");
    expect(err.message).toContain("gogrid-admin dashboard-password");
  });
});

describe("sessions", () => {
  test("expire after their lifetime; destroy ends them", () => {
    let t = 1_000;
    const store = new SessionStore(() => t, 1000);
    const a = store.create();
    const b = store.create();
    expect(a.id).not.toBe(b.id);
    expect(Buffer.from(a.id, "base64url").length).toBe(32);
    expect(store.valid(a.id)).toBe(true);
    store.destroy(a.id);
    expect(store.valid(a.id)).toBe(false);
    t += 1000;
    expect(store.valid(b.id)).toBe(false);
    expect(store.valid(null)).toBe(false);
    expect(store.valid("made-up")).toBe(false);
  });

  test("the oldest session goes when too many are open", () => {
    const store = new SessionStore(() => 0, 1000, 2);
    const a = store.create();
    store.create();
    store.create();
    expect(store.size).toBe(2);
    expect(store.valid(a.id)).toBe(false);
  });
});

describe("login limiter", () => {
  test("5 failures in a minute block the client until the window passes", () => {
    let t = 0;
    const limiter = new LoginLimiter(() => t);
    for (let i = 0; i < 4; i++) limiter.fail("a");
    expect(limiter.retryAfterSecs("a")).toBe(0);
    t = 10_000;
    limiter.fail("a");
    expect(limiter.retryAfterSecs("a")).toBe(50);
    expect(limiter.retryAfterSecs("b")).toBe(0);
    t = 60_001;
    expect(limiter.retryAfterSecs("a")).toBe(0);
  });
});

describe("cookies", () => {
  test("session cookie flags", () => {
    expect(sessionCookie("abc", { secure: false, maxAgeSecs: 60 })).toBe(
      "gogrid_session=abc; Path=/dashboard; Max-Age=60; HttpOnly; SameSite=Strict",
    );
    expect(sessionCookie("abc", { secure: true, maxAgeSecs: 60 })).toEndWith("; Secure");
  });

  test("readCookie finds the named cookie only", () => {
    expect(readCookie("a=1; gogrid_session=xyz; b=2", "gogrid_session")).toBe("xyz");
    expect(readCookie("xgogrid_session=1", "gogrid_session")).toBeNull();
    expect(readCookie(null, "gogrid_session")).toBeNull();
  });
});

// Dashboard admin login: the hashed password file, in-memory sessions and a login rate limit.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { PRIVATE_MODE, readIfExists, writeFileAtomic } from "../pki/files.ts";

export const SESSION_COOKIE = "gogrid_session";
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;
export const PASSWORD_COMMAND = "gogrid-admin dashboard-password";

export type DashboardAuthErrorCode = "password_too_short" | "password_too_long" | "password_file_invalid";

export class DashboardAuthError extends Error {
  override readonly name = "DashboardAuthError";
  constructor(
    readonly code: DashboardAuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface PasswordFile {
  /** Bun.password.hash (argon2id) PHC string. */
  passwordHash: string;
  updatedAt: string;
}

export const passwordFilePath = (dataDir: string): string => join(dataDir, "dashboard.json");

/** The stored password file, or null when none is set; a file that is not one is a DashboardAuthError. */
export async function readPasswordFile(dataDir: string): Promise<PasswordFile | null> {
  const path = passwordFilePath(dataDir);
  const text = await readIfExists(path);
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const hash = (parsed as Partial<PasswordFile> | null)?.passwordHash;
  if (typeof hash !== "string" || !hash.startsWith("$argon2")) {
    throw new DashboardAuthError(
      "password_file_invalid",
      `${path} is not a dashboard password file: set the password again (${PASSWORD_COMMAND})`,
    );
  }
  return parsed as PasswordFile;
}

/** Stores the admin password as an argon2id hash in `<data-dir>/dashboard.json` (0600, atomic). */
export async function setDashboardPassword(dataDir: string, password: string): Promise<void> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new DashboardAuthError(
      "password_too_short",
      `the dashboard password must have at least ${MIN_PASSWORD_LENGTH} characters (it has ${password.length})`,
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new DashboardAuthError("password_too_long", `the dashboard password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  const passwordHash = await Bun.password.hash(password, { algorithm: "argon2id" });
  const file: PasswordFile = { passwordHash, updatedAt: new Date().toISOString() };
  await writeFileAtomic(passwordFilePath(dataDir), `${JSON.stringify(file, null, 2)}\n`, PRIVATE_MODE);
}

/** Whether an admin password has been set for this data dir. */
export async function dashboardPasswordIsSet(dataDir: string): Promise<boolean> {
  return (await readPasswordFile(dataDir)) !== null;
}

const plausible = (password: string) => password.length > 0 && password.length <= MAX_PASSWORD_LENGTH;

/** True when `password` matches the stored one; false when it does not or none is set. */
export async function verifyDashboardPassword(dataDir: string, password: string): Promise<boolean> {
  if (!plausible(password)) return false;
  return passwordMatches(await readPasswordFile(dataDir), password);
}

/** verifyDashboardPassword against a password file already read (readPasswordFile). */
export async function passwordMatches(file: PasswordFile | null, password: string): Promise<boolean> {
  if (!plausible(password) || !file) return false;
  return Bun.password.verify(password, file.passwordHash);
}

/** Random session ids held in memory; each lives SESSION_TTL_MS from login. */
export class SessionStore {
  readonly #sessions = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly maxSessions = 1000,
  ) {}

  create(): { id: string; expiresAt: number } {
    this.sweep();
    // the oldest sessions go first when too many are open (Map keeps insertion order)
    while (this.#sessions.size >= this.maxSessions) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString("base64url");
    const expiresAt = this.now() + this.ttlMs;
    this.#sessions.set(id, expiresAt);
    return { id, expiresAt };
  }

  valid(id: string | null): boolean {
    if (!id) return false;
    const expiresAt = this.#sessions.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.now()) {
      this.#sessions.delete(id);
      return false;
    }
    return true;
  }

  destroy(id: string | null): void {
    if (id) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, expiresAt] of this.#sessions) if (expiresAt <= now) this.#sessions.delete(id);
  }
}

/** Failed logins per client within a sliding window; over the limit, logins are refused. */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(
    private readonly now: () => number,
    readonly maxFailures = 5,
    readonly windowMs = 60_000,
  ) {}

  /** Seconds until the client may try again, or 0 when it may now. */
  retryAfterSecs(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.maxFailures) return 0;
    const oldest = recent[recent.length - this.maxFailures] as number;
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.now()) / 1000));
  }

  fail(client: string): void {
    const recent = this.recent(client);
    recent.push(this.now());
    this.#failures.set(client, recent);
    if (this.#failures.size > 10_000) this.prune();
  }

  succeed(client: string): void {
    this.#failures.delete(client);
  }

  private recent(client: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.#failures.get(client) ?? []).filter((t) => t > since);
  }

  private prune(): void {
    for (const client of [...this.#failures.keys()]) {
      const recent = this.recent(client);
      if (recent.length === 0) this.#failures.delete(client);
      else this.#failures.set(client, recent);
    }
  }
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

export function sessionCookie(id: string, opts: { secure: boolean; maxAgeSecs: number }): string {
  const parts = [`${SESSION_COOKIE}=${id}`, "Path=/dashboard", `Max-Age=${opts.maxAgeSecs}`, "HttpOnly", "SameSite=Strict"];
  if (opts.secure) parts.push("Secure");
  return parts.join("; ");
}

export const clearedSessionCookie = (secure: boolean): string => sessionCookie("", { secure, maxAgeSecs: 0 });

// A private, throwaway Postgres cluster (initdb + pg_ctl in a temp dir, a free port) that a soak part may stop and start.
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./procs.ts";

/** The newest /usr/lib/postgresql/<version>/bin holding initdb, or null. */
export function postgresBinDir(): string | null {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], "bin") : null;
}

/** initdb refuses to run as root: then the cluster belongs to the `postgres` user (runuser). */
function asOwner(cmd: string[]): string[] {
  return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
}

function uidOf(user: string): { uid: number; gid: number } | null {
  const r = Bun.spawnSync(["id", "-u", user]);
  const g = Bun.spawnSync(["id", "-g", user]);
  if (r.exitCode !== 0 || g.exitCode !== 0) return null;
  return { uid: Number(r.stdout.toString().trim()), gid: Number(g.stdout.toString().trim()) };
}

/**
 * Runs a server tool without blocking this process's event loop: a blocked client holding a
 * half-open connection keeps a shutting-down server waiting (that cost 30 s per restart).
 */
async function run(cmd: string[], what: string): Promise<string> {
  const p = Bun.spawn(asOwner(cmd), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (${code}): ${err.trim() || out.trim()}`);
  return out;
}

export class PgCluster {
  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, "data");
  }

  /** postgres://postgres@127.0.0.1:<port>/<db> */
  url(db = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  /** initdb in a temp dir and start on a free port; throws, saying why, where that is impossible. */
  static async create(): Promise<PgCluster> {
    const bin = postgresBinDir();
    if (!bin) throw new Error("no Postgres server binaries under /usr/lib/postgresql/*/bin (initdb, pg_ctl)");
    const dir = mkdtempSync(join(tmpdir(), "gogrid-soak-pg-"));
    if (process.getuid?.() === 0) {
      const owner = uidOf("postgres");
      if (!owner) throw new Error("running as root, and there is no `postgres` user to own a private cluster (initdb refuses root)");
      chownSync(dir, owner.uid, owner.gid);
    }
    const cluster = new PgCluster(bin, dir, freePort());
    await run([join(bin, "initdb"), "-D", cluster.dataDir, "-A", "trust", "-U", "postgres", "--no-sync"], "initdb");
    await cluster.start();
    return cluster;
  }

  /** Starts the server and waits until it accepts connections; returns seconds taken. */
  async start(): Promise<number> {
    const t0 = performance.now();
    await run(
      [
        join(this.bin, "pg_ctl"),
        "-D",
        this.dataDir,
        "-l",
        join(this.dir, "server.log"),
        "-o",
        `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
        "-w",
        "-t",
        "30",
        "start",
      ],
      "pg_ctl start",
    );
    return (performance.now() - t0) / 1000;
  }

  /**
   * Stops the server: `fast` closes sessions cleanly (falling back to immediate after 10 s),
   * `immediate` is a crash (recovery on start). Returns the mode that stopped it.
   */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<"fast" | "immediate"> {
    if (mode === "fast") {
      try {
        await run([join(this.bin, "pg_ctl"), "-D", this.dataDir, "-m", "fast", "-w", "-t", "10", "stop"], "pg_ctl stop");
        return "fast";
      } catch {
        // a backend that does not exit in time: crash it
      }
    }
    try {
      await run([join(this.bin, "pg_ctl"), "-D", this.dataDir, "-m", "immediate", "-w", "-t", "30", "stop"], "pg_ctl stop");
    } catch (e) {
      // the timed-out fast shutdown finished on its own in the meantime: stopped all the same
      if (!/PID file .* does not exist|Is server running\?/.test((e as Error).message)) throw e;
    }
    return "immediate";
  }

  /** Creates a database and returns its URL. */
  async createDb(name: string): Promise<string> {
    await run([join(this.bin, "createdb"), "-h", "127.0.0.1", "-p", String(this.port), "-U", "postgres", name], "createdb");
    return this.url(name);
  }

  /** Stops the server (if running) and removes its files. */
  async destroy(): Promise<void> {
    const log = join(this.dir, "server.log");
    if (process.env.SOAK_DEBUG_LOG && existsSync(log)) await Bun.write(`${process.env.SOAK_DEBUG_LOG}.pg`, Bun.file(log));
    try {
      await this.stop("immediate");
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

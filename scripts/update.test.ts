// Self-update for real: a compiled worker 1.0.0 updates itself through the coordinator to 1.1.0 (from a delta);
// then a broken 1.2.0 that never registers is rolled back to 1.1.0 by itself. Linux, CPU build.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { enrolmentToken, start, until } from "../coordinator/test/harness.ts";
import { generateKeyPair } from "../protocol/src/release/index.ts";
import { setConfigValue } from "../worker/src/config.ts";
import { UpdateStore } from "../worker/src/update/state.ts";
import { signKeySet } from "./release/keys.ts";
import { publish } from "./release/publish.ts";

setDefaultTimeout(420_000);

const root = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "gogrid-update-e2e-"));
let stopping = false;
let child: Subprocess | null = null;
afterAll(async () => {
  stopping = true;
  child?.kill("SIGTERM");
  await child?.exited;
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a command without blocking this process (the coordinator under test lives here). */
async function run(cmd: string[], what: string, env: Record<string, string | undefined> = process.env): Promise<string> {
  const p = Bun.spawn(cmd, { cwd: root, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (${code}): ${err.slice(-2000)}`);
  return out;
}

test("a compiled worker updates itself to B through the coordinator, and a B that fails its health check is rolled back", async () => {
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error("this end-to-end test builds linux-x64 binaries; run it on linux-x64");
  const rootKey = await generateKeyPair();
  const releaseKey = await generateKeyPair();
  mkdirSync(join(dir, "keys"));
  writeFileSync(join(dir, "keys", "root.key"), rootKey.secretKey, { mode: 0o600 });
  writeFileSync(join(dir, "keys", "release.key"), releaseKey.secretKey, { mode: 0o600 });
  const build = async (version: string) => {
    const out = join(dir, `bin-${version}`);
    await run(
      [
        process.execPath,
        "scripts/build.ts",
        "--target",
        "bun-linux-x64",
        "--no-tray",
        "--version",
        version,
        "--update-root-key",
        rootKey.publicKey,
        "--out-dir",
        out,
      ],
      `building ${version}`,
    );
    return out;
  };
  const binA = await build("1.0.0");
  const binB = await build("1.1.0");
  // the broken release: starts, never registers
  const bad = join(dir, "bin-1.2.0", "bun-linux-x64", "gogrid-worker");
  mkdirSync(join(dir, "bin-1.2.0", "bun-linux-x64"), { recursive: true });
  writeFileSync(join(dir, "bad.ts"), 'console.error("gogrid-worker 1.2.0: a broken build that hangs"); setInterval(() => {}, 1 << 30);\n');
  await run([process.execPath, "build", "--compile", join(dir, "bad.ts"), "--outfile", bad], "building the broken release");

  const releases = join(dir, "releases");
  await signKeySet({
    rootKeyFile: join(dir, "keys", "root.key"),
    releasePublicKeys: [releaseKey.publicKey],
    revoke: [],
    version: 1,
    expiresDays: 30,
    out: join(releases, "keys.json"),
  });
  const pub = (version: string, binDir: string, deltas = true) =>
    publish({
      channel: "stable",
      version,
      releaseKeyFile: join(dir, "keys", "release.key"),
      binDir,
      releases,
      expiresDays: 30,
      rolloutPercent: 100,
      deltas,
    });
  await pub("1.0.0", binA);
  const b = await pub("1.1.0", binB);
  const delta = b.platforms.find((p) => p.platform === "linux-x64")!;
  console.log(`release 1.1.0: full ${delta.size} bytes, delta from 1.0.0 ${delta.delta_size} bytes`);
  expect(delta.delta_size).toBeLessThan(delta.size / 20);

  const c = await start({ releasesDir: releases, updateCheckSecs: 1 });
  try {
    // install A as a package would, enrol it, run it under a supervisor that restarts on 75 (as systemd does)
    const installed = join(dir, "install", "gogrid-worker");
    mkdirSync(join(dir, "install"));
    copyFileSync(join(binA, "bun-linux-x64", "gogrid-worker"), installed);
    const home = join(dir, "home");
    const env = { ...process.env, GOGRID_HOME: home, GOGRID_BACKEND: "cpu" };
    await run([installed, "enroll", "--token", await enrolmentToken(c.repo), "--server", c.apiUrl], "enrolment", env);
    const cfg = join(home, "config.toml");
    setConfigValue(cfg, "worker", "update_trial_secs", 10);
    setConfigValue(cfg, "worker", "reconnect_delay_secs", 0.2);
    let log = "";
    let starts = 0;
    const supervisor = (async () => {
      while (!stopping) {
        child = Bun.spawn([installed, "run", "--no-control"], { env, stdout: "ignore", stderr: "pipe" });
        starts++;
        for await (const chunk of child.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(chunk);
        if ((await child.exited) !== 75) break;
      }
    })();
    const store = new UpdateStore(join(home, "updates"));
    const versionOf = async () => {
      const w = (await c.repo.listWorkers())[0];
      return (w?.info as { version?: string } | null)?.version;
    };
    const metric = async (result: string) => (await c.metrics.metricsText()).includes(`gogrid_worker_updates_total{result="${result}"} 1`);

    // A registers, is offered 1.1.0, applies the delta, restarts into it; B registers and reports success
    await until(async () => (await versionOf()) === "1.1.0" && (await metric("ok")), 120_000, `the worker on 1.1.0\n${log}`);
    expect(store.read()).toMatchObject({ current: { version: "1.1.0" }, previous: null, pending: null, bad_versions: [] });
    expect(log).toContain("release 1.1.0 verified (delta");
    expect(log).toContain("starting installed release 1.1.0 (this binary is 1.0.0)");

    // publish the broken 1.2.0: offered live, installed, it hangs, is killed at its deadline and rolled back
    await pub("1.2.0", join(dir, "bin-1.2.0"), false);
    await until(async () => await metric("health_check_timeout"), 150_000, `the rollback report\n${log}`);
    expect(log).toContain("release 1.2.0 did not finish its trial in time");
    const s = store.read();
    expect(s).toMatchObject({ current: { version: "1.1.0" }, pending: null, bad_versions: ["1.2.0"] });
    expect(s.highest_version_seen).toBe("1.2.0");
    await until(async () => (await versionOf()) === "1.1.0", 30_000, "1.1.0 registered again");
    // it is offered 1.2.0 again on every register, and skips it
    expect(starts).toBeGreaterThanOrEqual(4);
    stopping = true;
    child?.kill("SIGTERM");
    await supervisor;
  } finally {
    await c.cleanup();
  }
});

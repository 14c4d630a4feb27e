import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256File } from "./fetch-verified.ts";
import { installStaged } from "./install.ts";
import { RESTART_EXIT, resolveLaunch, superviseRelease } from "./launcher.ts";
import { UpdateStore } from "./state.ts";
import { type ReleaseFixture, releaseFixture } from "./testing/release-fixture.ts";

setDefaultTimeout(60_000);
const log = () => {};

/** Installs a shell script as release `version` on trial, as installStaged does for a real binary. */
async function installScript(store: UpdateStore, version: string, script: string, trialMs = 60_000): Promise<string> {
  const staged = `${store.binaryPath(version)}.staged`;
  mkdirSync(store.versionDir(version), { recursive: true });
  writeFileSync(staged, `#!/bin/sh\n${script}\n`);
  chmodSync(staged, 0o755);
  installStaged(
    store,
    { version, sha256: await sha256File(staged), path: staged, via: "full", downloadedBytes: 0 },
    { runningVersion: "1.0.0", trialMs, now: Date.now() },
  );
  return store.binaryPath(version);
}

const fresh = () => new UpdateStore(mkdtempSync(join(tmpdir(), "gogrid-launch-")));

describe("which binary starts", () => {
  test("a newer intact release runs; an older one, a damaged one or none leaves this binary", async () => {
    const store = fresh();
    expect(await resolveLaunch(store, "1.0.0", log)).toEqual({ kind: "self" });
    const path = await installScript(store, "1.1.0", "exit 0");
    expect(await resolveLaunch(store, "1.0.0", log)).toEqual({ kind: "release", version: "1.1.0", path });
    expect(await resolveLaunch(store, "1.2.0", log)).toEqual({ kind: "self" }); // the package manager installed something newer
    writeFileSync(path, "#!/bin/sh\necho tampered\n");
    expect(await resolveLaunch(store, "1.0.0", log)).toEqual({ kind: "self" });
    expect(store.read()).toMatchObject({ current: null, pending: null, bad_versions: ["1.1.0"] });
  });
});

describe("the launcher supervises a release on trial", () => {
  const run = (store: UpdateStore, path: string, graceMs = 10_000) =>
    superviseRelease(store, { version: "1.1.0", path }, { args: [], selfVersion: "1.0.0", log, graceMs, pollMs: 50 });

  test("a release that crashes before registering is rolled back", async () => {
    const store = fresh();
    const path = await installScript(store, "1.1.0", "exit 3");
    expect(await run(store, path)).toBe(RESTART_EXIT);
    expect(store.read()).toMatchObject({
      current: null,
      pending: null,
      bad_versions: ["1.1.0"],
      report: { ok: false, error: { code: "crashed" } },
    });
    expect(await resolveLaunch(store, "1.0.0", log)).toEqual({ kind: "self" });
  });

  test("a release that hangs past its deadline is killed and rolled back", async () => {
    const store = fresh();
    const path = await installScript(store, "1.1.0", "sleep 30", 200);
    const t0 = Date.now();
    expect(await run(store, path, 100)).toBe(RESTART_EXIT);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(store.read().report).toMatchObject({ ok: false, error: { code: "health_check_timeout" } });
  });

  test("a release that registered (trial over) keeps running and its exit status passes through", async () => {
    const store = fresh();
    const path = await installScript(store, "1.1.0", "sleep 0.5; exit 0");
    const done = run(store, path);
    store.update((s) => {
      s.pending = null;
    });
    expect(await done).toBe(0);
    expect(store.read().current?.version).toBe("1.1.0");
  });
});

describe("killed mid-install", () => {
  let fx: ReleaseFixture;
  beforeAll(async () => {
    fx = await releaseFixture({ size: 8 << 20 });
  });
  afterAll(() => fx.stop());

  test("SIGKILL at any moment leaves either the old release or the complete new one starting", async () => {
    const outcomes = { old: 0, new: 0 };
    for (let i = 0; i < 10; i++) {
      const store = fresh();
      const child = Bun.spawn(
        ["bun", join(import.meta.dir, "testing", "install-child.ts"), store.dir, fx.manifestUrl, fx.root.publicKey, fx.files.a],
        {
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      await Bun.sleep(60 + i * 200);
      child.kill("SIGKILL");
      await child.exited;
      if (existsSync(store.file)) JSON.parse(readFileSync(store.file, "utf8")); // never half-written
      const t = await resolveLaunch(store, "1.0.0", log);
      if (t.kind === "self") outcomes.old++;
      else {
        expect(await sha256File(t.path)).toBe(await sha256File(fx.files.b));
        outcomes.new++;
      }
    }
    console.log(`killed mid-install: old release starts ${outcomes.old}×, new release ${outcomes.new}×`);
    // the kills landed both before and after the install point
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(0);
    expect(outcomes.old + outcomes.new).toBe(10);
  });
});

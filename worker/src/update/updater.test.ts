import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type UpdateReport, UpdateStore } from "./state.ts";
import { type ReleaseFixture, releaseFixture } from "./testing/release-fixture.ts";
import { Updater, type UpdaterOptions } from "./updater.ts";

setDefaultTimeout(30_000);

let fx: ReleaseFixture;
let store: UpdateStore;
let events: string[];
let reports: UpdateReport[];

beforeEach(async () => {
  fx = await releaseFixture();
  store = new UpdateStore(mkdtempSync(join(tmpdir(), "gogrid-updates-")));
  events = [];
  reports = [];
});
afterEach(() => fx.stop());

function updater(o: Partial<UpdaterOptions> = {}): Updater {
  return new Updater({
    store,
    enabled: () => true,
    channel: () => "stable",
    version: "1.0.0",
    platform: "linux-x64",
    rootKeys: [fx.root.publicKey],
    currentBinary: fx.files.a,
    tls: () => undefined,
    drain: async () => {
      events.push("drain");
    },
    undrain: () => events.push("undrain"),
    restart: () => events.push("restart"),
    report: (r) => reports.push(r),
    log: () => {},
    ...o,
  });
}

const offer = (u: Updater, version = "1.1.0") => u.offer({ version, channel: "stable", manifest_url: fx.manifestUrl });

/** The installed release is what it was: nothing current, nothing staged, no restart. */
function unchanged(): void {
  const s = store.read();
  expect(s.current).toBeNull();
  expect(s.pending).toBeNull();
  expect(existsSync(store.binaryPath("1.1.0"))).toBe(false);
  expect(events).not.toContain("restart");
}

describe("a good release", () => {
  test("is applied from the delta, after the running jobs drained, and put on trial", async () => {
    const u = updater();
    expect(await offer(u)).toBe("installed");
    expect(events).toEqual(["drain", "restart"]);
    expect(u.last).toMatchObject({ version: "1.1.0", via: "delta" });
    const delta = fx.readManifest().signed.platforms["linux-x64"]!.delta!;
    expect(u.last?.bytes).toBe(delta.size);
    expect(delta.size).toBeLessThan(fx.readManifest().signed.platforms["linux-x64"]!.size / 10);
    expect(fx.served.requests).not.toContain("/releases/files/1.1.0/linux-x64/gogrid-worker");
    const s = store.read();
    expect(s.current?.version).toBe("1.1.0");
    expect(s.previous).toBeNull(); // the packaged binary is the fallback
    expect(s.pending).toMatchObject({ version: "1.1.0", from: "1.0.0" });
    expect(readFileSync(store.binaryPath("1.1.0"))).toEqual(readFileSync(fx.files.b));
  });

  test("falls back to the full file when the running binary is not the delta's source", async () => {
    const u = updater({ currentBinary: fx.files.b });
    expect(await offer(u)).toBe("installed");
    expect(u.last).toMatchObject({ via: "full" });
    expect(readFileSync(store.binaryPath("1.1.0"))).toEqual(readFileSync(fx.files.b));
  });

  test("falls back to the full file when the delta is damaged in transit", async () => {
    const delta = fx.readManifest().signed.platforms["linux-x64"]!.delta!;
    fx.override.set(`/releases/${new URL(delta.url, fx.manifestUrl).pathname.replace(/^\/releases\//, "")}`, () => new Response("x"));
    fx.override.set(new URL(delta.url, fx.manifestUrl).pathname, () => new Response(new Uint8Array(delta.size)));
    const u = updater();
    expect(await offer(u)).toBe("installed");
    expect(u.last).toMatchObject({ via: "full" });
  });

  test("an equal or older release is nothing to do; auto-update off or no root key does nothing", async () => {
    expect(await offer(updater({ version: "1.1.0" }))).toBe("up_to_date");
    expect(await offer(updater({ enabled: () => false }))).toBe("blocked");
    expect(await offer(updater({ rootKeys: [] }))).toBe("blocked");
    expect(await offer(updater({ currentBinary: null }))).toBe("blocked");
    expect(await offer(updater({ channel: () => "beta" }))).toBe("other_channel");
    unchanged();
  });
});

describe("every attack is refused and the installed version stays", () => {
  const refused = async (code: string, o: Partial<UpdaterOptions> = {}) => {
    const u = updater(o);
    expect(await offer(u)).toBe(code);
    unchanged();
    expect(reports.at(-1)).toMatchObject({ version: "1.1.0", previous_version: "1.0.0", ok: false, error: { code } });
  };

  test("tampered file", async () => {
    const m = fx.readManifest().signed.platforms["linux-x64"]!;
    const evil = readFileSync(fx.files.b);
    evil[100] = (evil[100]! + 1) % 256;
    fx.override.set(new URL(m.url, fx.manifestUrl).pathname, () => new Response(evil));
    fx.override.set(new URL(m.delta!.url, fx.manifestUrl).pathname, () => new Response("not found", { status: 404 }));
    await refused("hash_mismatch");
  });
  test("manifest changed after signing (bad signature)", async () => {
    const doc = fx.readManifest();
    doc.signed.rollout_percent = 99;
    fx.writeManifest(doc);
    await refused("bad_signature");
  });
  test("manifest signed by an unknown key", async () => {
    await fx.resignManifest(() => {}, fx.other);
    await refused("unknown_key");
  });
  test("key set not signed by the root key", async () => {
    await refused("unknown_key", { rootKeys: [fx.other.publicKey] });
  });
  test("revoked release key", async () => {
    await fx.resignKeys({ version: 2, revoke: [fx.release.keyid] });
    await refused("revoked_key");
  });
  test("replayed older key set", async () => {
    store.update((s) => {
      s.keyset_version = 2;
    });
    await refused("keyset_rollback");
  });
  test("older version than one already seen", async () => {
    store.update((s) => {
      s.highest_version_seen = "1.2.0";
    });
    await refused("version_rollback");
  });
  test("expired manifest", async () => {
    await fx.resignManifest((m) => {
      m.expires = new Date(Date.now() - 1000).toISOString();
    });
    await refused("expired");
  });
  test("no build for this platform", async () => {
    await refused("wrong_platform", { platform: "windows-x64" });
  });
  test("another platform's file in place of ours", async () => {
    const m = fx.readManifest().signed.platforms["linux-x64"]!;
    fx.override.set(new URL(m.url, fx.manifestUrl).pathname, () => new Response(readFileSync(fx.files.a)));
    await refused("hash_mismatch", { currentBinary: fx.files.b });
  });
  test("endless download: stopped just past the declared size", async () => {
    const m = fx.readManifest().signed.platforms["linux-x64"]!;
    let read = 0;
    const endless = () =>
      new Response(
        new ReadableStream({
          pull(c) {
            read += 65536;
            c.enqueue(new Uint8Array(65536));
          },
        }),
      );
    const fetchImpl = (async (url: string, init: RequestInit) =>
      url.endsWith("/gogrid-worker") ? endless() : fetch(url, init)) as typeof fetch;
    await refused("too_large", { currentBinary: fx.files.b, fetchImpl });
    expect(read).toBeLessThanOrEqual(m.size + 3 * 65536);
  });
  test("oversized manifest", async () => {
    fx.override.set("/releases/stable/manifest.json", () => new Response(new Uint8Array(5 << 20)));
    await refused("too_large");
  });
});

describe("trial and rollback", () => {
  test("a release that registers in time is confirmed and reported once", async () => {
    expect(await offer(updater())).toBe("installed");
    const b = updater({ version: "1.1.0", currentBinary: store.binaryPath("1.1.0") });
    b.startTrial();
    b.registered();
    b.stop();
    expect(reports).toEqual([{ version: "1.1.0", previous_version: "1.0.0", ok: true }]);
    expect(store.read().pending).toBeNull();
    expect(store.read().current?.version).toBe("1.1.0");
    b.registered();
    expect(reports.length).toBe(1);
  });

  test("a release that misses its deadline rolls back, restarts, and the old one reports the failure", async () => {
    expect(await offer(updater({ trialMs: 50 }))).toBe("installed");
    events = [];
    const b = updater({ version: "1.1.0", currentBinary: store.binaryPath("1.1.0") });
    b.startTrial();
    await Bun.sleep(150);
    expect(events).toEqual(["restart"]);
    const s = store.read();
    expect(s.current).toBeNull();
    expect(s.bad_versions).toEqual(["1.1.0"]);
    expect(existsSync(store.versionDir("1.1.0"))).toBe(false);
    const a = updater();
    a.registered();
    expect(reports.at(-1)).toMatchObject({
      version: "1.1.0",
      previous_version: "1.0.0",
      ok: false,
      error: { code: "health_check_timeout" },
    });
    // offered again, the failed release is skipped
    expect(await offer(a)).toBe("known_bad");
  });
});

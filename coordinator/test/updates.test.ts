// Self-update on the coordinator: releases served on the worker port, offers on register and on a new manifest, staged rollout.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inRollout } from "@gogrid/protocol/release";
import { type ReleaseFixture, releaseFixture } from "../../worker/src/update/testing/release-fixture.ts";
import { enrolmentToken, start, until } from "./harness.ts";
import { enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(60_000);

let fx: ReleaseFixture;
let c: Awaited<ReturnType<typeof start>>;
const workers: SimWorker[] = [];

beforeAll(async () => {
  fx = await releaseFixture({ xdelta: false });
  c = await start({ releasesDir: fx.releases, updateCheckSecs: 1 });
});
afterAll(async () => {
  for (const w of workers) w.ws?.close();
  await c.cleanup();
  fx.stop();
});

async function worker(o: { version: string; channel?: "stable" | "beta" }): Promise<SimWorker> {
  const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), { kind: "answer", text: () => "" }, o);
  expect(await w.connect()).toBe(true);
  workers.push(w);
  return w;
}

const offers = (w: SimWorker) => w.received.filter((m) => m.type === "update_available");

describe("releases on the worker port", () => {
  test("an older worker is offered the channel's release when it registers; a current one or another channel is not", async () => {
    const old = await worker({ version: "1.0.0" });
    const current = await worker({ version: "1.1.0" });
    const beta = await worker({ version: "1.0.0", channel: "beta" });
    await until(() => offers(old).length === 1, 5000, "an offer");
    expect(offers(old)[0]).toMatchObject({ version: "1.1.0", channel: "stable" });
    const url = (offers(old)[0] as { manifest_url: string }).manifest_url;
    expect(url).toBe(`https://127.0.0.1:${c.gateway.port}/releases/stable/manifest.json`);
    await Bun.sleep(300);
    expect(offers(current)).toEqual([]);
    expect(offers(beta)).toEqual([]);
  });

  test("files are served to enrolled workers only, and nothing outside the releases folder", async () => {
    const w = workers[0]!;
    const tls = { cert: w.id.certPem, key: w.id.keyPem, ca: c.pki.caCertPem, rejectUnauthorized: true };
    const base = `https://127.0.0.1:${c.gateway.port}`;
    const res = await fetch(`${base}/releases/stable/manifest.json`, { tls });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { signed: { version: string } }).signed.version).toBe("1.1.0");
    const file = await fetch(`${base}/releases/files/1.1.0/linux-x64/gogrid-worker`, { tls });
    expect(new Uint8Array(await file.arrayBuffer()).byteLength).toBe(fx.readManifest().signed.platforms["linux-x64"]!.size);
    for (const p of ["/releases/../pki/ca.key", "/releases/%2e%2e/pki/ca.key", "/releases/stable/nothing.json", "/releases/"]) {
      const r = await fetch(`${base}${p}`, { tls });
      expect([404, 426]).toContain(r.status); // 426: the URL normalised to a path outside /releases/
      expect(await r.text()).not.toContain("PRIVATE KEY");
    }
    const anonymous = await fetch(`${base}/releases/stable/manifest.json`, { tls: { ca: c.pki.caCertPem } }).then(
      (r) => r.status,
      () => "refused",
    );
    expect(anonymous).toBe("refused");
  });

  test("staged rollout: only the chosen share is offered; widening it offers the rest without a reconnect", async () => {
    await fx.resignManifest((m) => {
      m.version = "1.2.0";
      m.rollout_percent = 30;
    });
    const fleet = await Promise.all(Array.from({ length: 12 }, () => worker({ version: "1.1.0" })));
    await Bun.sleep(2500); // the folder is read every second
    const chosen = fleet.filter((w) => inRollout(w.id.nodeId, "1.2.0", 30));
    for (const w of fleet) expect(offers(w).length).toBe(chosen.includes(w) ? 1 : 0);
    await fx.resignManifest((m) => {
      m.rollout_percent = 100;
    });
    await until(() => fleet.every((w) => offers(w).length === 1), 8000, "offers to the whole fleet");
    expect(offers(fleet[0]!)[0]).toMatchObject({ version: "1.2.0" });
  });

  test("a worker older than the minimum version is offered even outside the rollout", async () => {
    await fx.resignManifest((m) => {
      m.version = "1.3.0";
      m.rollout_percent = 1;
      m.minimum_version = "1.2.0";
    });
    await Bun.sleep(1500);
    const stale = await worker({ version: "1.1.5" });
    await until(() => offers(stale).some((m) => (m as { version: string }).version === "1.3.0"), 5000, "a forced offer");
  });

  test("update_complete is counted by result", async () => {
    const w = workers[0]!;
    w.send({ type: "update_complete", version: "1.1.0", previous_version: "1.0.0", ok: true });
    w.send({
      type: "update_complete",
      version: "1.2.0",
      previous_version: "1.1.0",
      ok: false,
      error: { code: "health_check_timeout", message: "x" },
    });
    await until(
      async () => (await c.metrics.metricsText()).includes('gogrid_worker_updates_total{result="health_check_timeout"} 1'),
      5000,
      "the metric",
    );
    expect(await c.metrics.metricsText()).toContain('gogrid_worker_updates_total{result="ok"} 1');
  });

  test("a damaged manifest is not offered and the last good one stays", async () => {
    writeFileSync(join(fx.releases, "stable", "manifest.json"), "{ damaged");
    await Bun.sleep(1500);
    expect(c.releases.current("stable")?.version).toBe("1.3.0");
    expect(c.releases.current("beta")).toBeNull();
  });
});

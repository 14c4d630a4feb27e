// gogrid-admin against a running coordinator's SQLite database, from outside its process.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { runAdmin } from "../src/admin/main.ts";
import { verifyDashboardPassword } from "../src/dashboard/index.ts";
import { SHARED_MODEL, start, until } from "./harness.ts";
import { enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(60_000);

let c: Awaited<ReturnType<typeof start>>;
let dataDir = "";
beforeAll(async () => {
  c = await start();
  dataDir = c.pki.dir.replace(/\/pki$/, "");
});
afterAll(() => c.cleanup());

async function admin(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(
    ["bun", "gogrid-admin", "--data-dir", dataDir, ...args],
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("gogrid-admin", () => {
  test("a token it makes enrols a worker; the key it makes calls the API", async () => {
    const t = await admin("tokens", "create", "--ttl", "1h", "--label", "test box");
    expect(t.code).toBe(0);
    const token = t.out.split("\n")[0] as string;
    const w = new SimWorker(await enrol(c.apiUrl, token), { kind: "hang" });
    expect(await w.connect()).toBe(true);
    expect((await admin("tokens", "list")).out).toContain("test box");

    const k = await admin("keys", "create", "--name", "alice");
    const key = k.out.split("\n")[0] as string;
    const res = await fetch(`${c.apiUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);

    const listed = await admin("workers", "list");
    expect(listed.out).toContain(w.id.nodeId);
    expect(listed.out).toContain("idle");

    // revoked from another process: the coordinator notices and closes the socket
    const r = await admin("workers", "revoke", w.id.nodeId, "--reason", "test");
    expect(r.code).toBe(0);
    expect((await w.closed).code).toBe(4001);
    expect((await admin("workers", "list")).out).toContain("revoked");
  });

  test("models: add from a path (hashed), list, remove; bad input is named", async () => {
    const added = await admin("models", "add", "tiny", "--path", SHARED_MODEL);
    expect(added.out).toContain("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
    expect((await admin("models", "list")).out).toContain("tiny");
    expect((await admin("models", "add", "remote", "--url", "https://models.example/x.gguf")).err).toContain(
      "--sha256 <64 hex digits> is required",
    );
    expect((await admin("models", "add", "bad id!", "--path", SHARED_MODEL)).err).toContain('invalid model id "bad id!"');
    expect((await admin("models", "remove", "tiny")).code).toBe(0);
    const gone = await admin("models", "remove", "tiny");
    expect(gone.code).toBe(2);
    expect(gone.err).toContain("no model with id tiny");
  });

  test("jobs: list, show and cancel; the worker is told to stop", async () => {
    await admin("models", "add", "stories260K", "--path", SHARED_MODEL);
    const key = (await admin("keys", "create", "--name", "bob")).out.split("\n")[0] as string;
    const token = (await admin("tokens", "create")).out.split("\n")[0] as string;
    const w = new SimWorker(await enrol(c.apiUrl, token), { kind: "hang" });
    expect(await w.connect()).toBe(true);
    const request = fetch(`${c.apiUrl}/v1/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stories260K", prompt: "x" }),
    });
    await until(() => w.assignments.length === 1, 5000, "assignment");
    const id = w.assignments[0]?.job_id as string;
    expect((await admin("jobs", "list", "--status", "running")).out).toContain(id);
    expect(JSON.parse((await admin("jobs", "show", id)).out).status).toBe("running");
    expect((await admin("jobs", "cancel", id)).out).toBe(`cancelled ${id}`);
    await until(() => w.received.some((m) => m.type === "job_cancel"), 5000, "job_cancel");
    const res = await request;
    expect(res.status).toBe(409);
    expect((await admin("jobs", "list", "--status", "bogus")).err).toContain('invalid status "bogus"');
    w.close();
  });

  test("dashboard-password: too short is refused; a good one is stored hashed (0600) and verifies", async () => {
    const run = (pw: string) => {
      const out: string[] = [];
      const err: string[] = [];
      return runAdmin(
        ["bun", "gogrid-admin", "--data-dir", dataDir, "dashboard-password"],
        (l) => out.push(l),
        (l) => err.push(l),
        async () => pw,
      ).then((code) => ({ code, out: out.join("\n"), err: err.join("\n") }));
    };
    const short = await run("short");
    expect(short.code).toBe(2);
    expect(short.err).toContain("12");
    const ok = await run("correct horse battery staple");
    expect(ok.code).toBe(0);
    const file = join(dataDir, "dashboard.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await Bun.file(file).text()).not.toContain("correct horse");
    expect(await verifyDashboardPassword(dataDir, "correct horse battery staple")).toBe(true);
    expect(await verifyDashboardPassword(dataDir, "wrong password here")).toBe(false);
  });

  test("usage errors exit 2 with the bad value named", async () => {
    const r = await admin("tokens", "create", "--ttl", "forever");
    expect(r.code).toBe(2);
    expect(r.err).toContain('invalid duration "forever"');
    expect((await admin("nonsense")).code).toBe(2);
  });
});

// Protocol 2 beside protocol 1: fields an older worker would refuse are only sent once version 2 is agreed.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { addModel, apiKey, enrolmentToken, start, until } from "./harness.ts";
import { enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(60_000);
let c: Awaited<ReturnType<typeof start>>;
const workers: SimWorker[] = [];
beforeAll(async () => {
  // every client job is sent as deterministic (result verification), none is audited
  c = await start({ auditFraction: 0, auditDeterministicFraction: 1, auditCanaryFraction: 0 });
  await addModel(c.repo);
});
afterAll(async () => {
  for (const w of workers) w.ws?.close();
  await c.cleanup();
});

test("a worker on protocol 1 gets jobs without `deterministic`; a worker on 2 gets the flag", async () => {
  const key = await apiKey(c.repo);
  for (const protocol of [1, 2]) {
    const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), { kind: "answer", text: () => "ok" }, { protocol });
    expect(await w.connect()).toBe(true);
    workers.push(w);
    expect(w.received.find((m) => m.type === "auth_challenge")).toMatchObject({ protocol_version: protocol });
    const res = await fetch(`${c.apiUrl}/v1/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stories260K", prompt: `hello ${protocol}`, max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    await until(() => w.assignments.length === 1, 5000, "the assignment");
    expect(w.assignments[0]!.deterministic).toBe(protocol === 2 ? true : undefined);
    w.ws?.close();
    await w.closed;
  }
});

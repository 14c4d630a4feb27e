// Fuzz of POST /api/v1/register in CI: in-process and through the real listener, with the token ledger checked.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { start } from "../harness.ts";
import { fuzzRegister, type RegisterFuzzReport, registerTarget } from "./register-fuzz.ts";

setDefaultTimeout(120_000);

/** HTTP is ~1,000 requests/s here, so CI runs fewer than the decoders' 50,000 (the soak runs 100,000). */
const IN_PROCESS = 5_000;
const THROUGH_LISTENER = 1_000;

let c: Awaited<ReturnType<typeof start>>;
beforeAll(async () => {
  c = await start();
});
afterAll(async () => {
  await c.cleanup();
});

function expectClean(r: RegisterFuzzReport, runs: number): void {
  console.log(
    `register fuzz (${r.via}): ${r.inputs} requests in ${r.seconds} s, seed ${r.seed}; statuses ${JSON.stringify(r.statuses)}; ` +
      `codes ${JSON.stringify(r.codes)}; ${r.enrolled} enrolled, ${r.tokens_spent} pool tokens spent`,
  );
  expect(r.failure).toBeNull();
  expect(r.inputs).toBe(runs);
  expect(Object.keys(r.statuses).sort()).toEqual(["200", "400", "403", "413"]);
  expect(r.enrolled).toBeGreaterThan(0);
  expect(r.tokens_spent).toBe(r.enrolled);
}

describe("POST /api/v1/register fuzz", () => {
  test(`${IN_PROCESS} generated requests through app.handle: 200/400/403/413 only, OpenAI-shaped errors, tokens spent only by 200s`, async () => {
    expectClean(await fuzzRegister({ c, send: registerTarget(c, "handle"), via: "handle", runs: IN_PROCESS }), IN_PROCESS);
  });

  test(`${THROUGH_LISTENER} generated requests through the real listener`, async () => {
    expectClean(await fuzzRegister({ c, send: registerTarget(c, "listener"), via: "listener", runs: THROUGH_LISTENER }), THROUGH_LISTENER);
  });
});

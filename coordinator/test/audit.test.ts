// Result verification end to end (issue 9): simulated workers over real mTLS, jobs through the OpenAI API.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import OpenAI from "openai";
import { runAdmin } from "../src/admin/main.ts";
import { workers as dashboardWorkers } from "../src/dashboard/data.ts";
import { type FreshPostgres, freshPostgresUrl, postgresTestsDisabled } from "../src/db/testing.ts";
import { parseExposition, value } from "../src/metrics/test-support.ts";
import { addModel, apiKey, enrolmentToken, start, until } from "./harness.ts";
import { type Behaviour, enrol, SimWorker } from "./sim-worker.ts";

setDefaultTimeout(60_000);

const MODEL = "stories260K";
/** The simulated model: a deterministic function of the prompt. */
const reply = (prompt: string) => `Once upon a time ${prompt.split("").reverse().join("")} and they lived happily ever after.`;
const honest: Behaviour = { kind: "answer", text: (j) => reply(j.prompt ?? ""), chunkDelayMs: 3 };
const WORDS = ["the", "dog", "ran", "happy", "sun", "little", "girl", "tree", "big", "played", "mom", "said"];
/** Plausible garbage: story words, never the model's answer. */
const cheater: Behaviour = {
  kind: "answer",
  text: () => Array.from({ length: 14 }, () => WORDS[Math.floor(Math.random() * WORDS.length)]).join(" "),
  chunkDelayMs: 3,
};

type Coord = Awaited<ReturnType<typeof start>>;

async function admin(c: Coord, dbUrl: string | null, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const dataDir = c.pki.dir.replace(/\/pki$/, "");
  const db = dbUrl ? ["--database-url", dbUrl] : [];
  const code = await runAdmin(
    ["bun", "gogrid-admin", "--data-dir", dataDir, ...db, ...args],
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function connect(c: Coord, behaviour: Behaviour, pool: SimWorker[]): Promise<SimWorker> {
  const w = new SimWorker(await enrol(c.apiUrl, await enrolmentToken(c.repo)), behaviour, { capacity: 1, models: [MODEL] });
  if (!(await w.connect())) throw new Error("simulated worker could not connect");
  pool.push(w);
  return w;
}

const pgOff = postgresTestsDisabled();
if (pgOff) console.log(`audit.test.ts: Postgres tests disabled: ${pgOff}`);

for (const dialect of ["sqlite", "postgres"] as const) {
  if (dialect === "postgres" && pgOff) continue;
  describe(`audits (${dialect})`, () => {
    let c: Coord;
    let pg: FreshPostgres | null = null;
    let client: OpenAI;
    let key = "";
    const pool: SimWorker[] = [];

    beforeAll(async () => {
      pg = dialect === "postgres" ? await freshPostgresUrl() : null;
      c = await start({ ...(pg ? { databaseUrl: pg.url } : {}), auditFraction: 1, auditDeterministicFraction: 1, auditCanaryFraction: 0 });
      await addModel(c.repo);
      await c.repo.setPrice({ modelId: MODEL, completionMicrosPer1k: 1_000_000, promptMicrosPer1k: 0 });
      key = await apiKey(c.repo);
      client = new OpenAI({ baseURL: `${c.apiUrl}/v1`, apiKey: key, maxRetries: 0 });
    });
    afterAll(async () => {
      // let the last checks finish, so nothing is mid-flight when the database closes
      await until(async () => (await c.repo.listAudits({ status: ["waiting", "running", "tiebreak"] })).length === 0, 10_000).catch(
        () => {},
      );
      for (const w of pool) w.close();
      await c.cleanup();
      await pg?.drop();
    });

    /** `n` completions, 4 at a time; each must come back with its own prompt's answer or the cheater's garbage. */
    async function run(n: number, tag: string): Promise<string[]> {
      const texts: string[] = [];
      for (let i = 0; i < n; i += 4) {
        const batch = Array.from({ length: Math.min(4, n - i) }, (_, k) => `${tag} ${i + k}`);
        const done = await Promise.all(
          batch.map((prompt) => client.completions.create({ model: MODEL, prompt, max_tokens: 32, temperature: 0 })),
        );
        texts.push(...done.map((d) => d.choices[0]?.text ?? ""));
      }
      return texts;
    }

    test("a cheater is quarantined within 20 audited jobs, gets no jobs or credit after, and is released by the CLI", async () => {
      const good = [await connect(c, honest, pool), await connect(c, honest, pool), await connect(c, honest, pool)];
      const cheat = await connect(c, cheater, pool);
      const nodeId = cheat.id.nodeId;

      let submitted = 0;
      for (; submitted < 40; submitted += 4) {
        await run(4, `story ${submitted}`);
        if ((await c.repo.getWorker(nodeId))?.quarantinedAt != null) break;
        await until(async () => (await c.repo.listAudits({ status: ["waiting", "running", "tiebreak"] })).length === 0, 10_000, "audits");
        if ((await c.repo.getWorker(nodeId))?.quarantinedAt != null) break;
      }
      const w = await c.repo.getWorker(nodeId);
      expect(w?.quarantinedAt).not.toBeNull();
      const cheatJobs = (await c.repo.listJobs({ workerId: nodeId })).filter((j) => j.purpose === "client");
      const involved = (await c.repo.listAudits({ workerId: nodeId })).filter((a) => a.kind === "audit" && a.status !== "skipped");
      console.log(
        `${dialect}: quarantined after ${submitted + 4} client jobs submitted, ${cheatJobs.length} of them its own (all audited), ` +
          `${involved.length} audits involving it; trust ${w?.trust.toFixed(3)}, ${w?.auditMismatches} mismatches`,
      );
      expect(cheatJobs.length).toBeLessThanOrEqual(20);
      for (const g of good) expect((await c.repo.getWorker(g.id.nodeId))?.quarantinedAt).toBeNull();
      // every audited original and re-run was sent with deterministic: true
      const assignments = pool.flatMap((p) => p.assignments);
      expect(assignments.length).toBeGreaterThan(0);
      expect(assignments.every((a) => a.deterministic === true)).toBe(true);

      // quarantined: no further assignments, no credit
      await until(async () => (await c.repo.countJobs("running")) === 0, 10_000, "idle grid");
      const before = cheat.assignments.length;
      const ledgerBefore = await c.repo.ledgerTotals({ nodeId });
      const texts = await run(8, "after");
      expect(texts).toEqual(Array.from({ length: 8 }, (_, i) => reply(`after ${i}`)));
      expect(cheat.assignments.length).toBe(before);
      expect(await c.repo.ledgerTotals({ nodeId })).toEqual(ledgerBefore);

      // seen by the dashboard, the CLI and the metrics
      const view = (await dashboardWorkers(c.repo, Date.now())).workers.find((x) => x.nodeId === nodeId);
      expect(view?.quarantinedAt).toBe(w?.quarantinedAt as number);
      expect((await admin(c, pg?.url ?? null, "workers", "list")).out).toMatch(new RegExp(`${nodeId}.*quarantined`));
      const e = parseExposition(await c.metrics.metricsText());
      expect(value(e, "gogrid_quarantined_workers")).toBe(1);
      expect(value(e, "gogrid_quarantines_total")).toBe(1);
      expect(value(e, "gogrid_audits_total", { kind: "audit", outcome: "mismatch" })).toBeGreaterThanOrEqual(4);
      expect(value(e, "gogrid_audits_total", { kind: "audit", outcome: "match" })).toBeGreaterThan(0);
      const mismatches = await admin(c, pg?.url ?? null, "audits", "--status", "mismatch");
      expect(mismatches.out).toContain(nodeId);

      // released: it gets jobs again
      expect((await admin(c, pg?.url ?? null, "workers", "release", nodeId)).code).toBe(0);
      expect((await admin(c, pg?.url ?? null, "workers", "release", nodeId)).err).toContain("is not quarantined");
      expect(await c.repo.getWorker(nodeId)).toMatchObject({ quarantinedAt: null, trust: 1 });
      await run(8, "released");
      expect(cheat.assignments.length).toBeGreaterThan(before);
    });

    test("audit and canary jobs never reach clients: not listed, not fetchable, never credited or billed", async () => {
      const checks = (await c.repo.listJobs()).filter((j) => j.purpose !== "client");
      expect(checks.length).toBeGreaterThan(0);
      for (const j of checks.slice(0, 5)) {
        const res = await fetch(`${c.apiUrl}/api/v1/jobs/${j.id}`, { headers: { authorization: `Bearer ${key}` } });
        expect(res.status).toBe(404);
      }
      const ledger = await c.repo.listLedger({});
      const checkIds = new Set(checks.map((j) => j.id));
      expect(ledger.filter((e) => checkIds.has(e.jobId))).toEqual([]);
      // the client's key is billed for exactly its own credited jobs
      const keys = await c.repo.listApiKeys();
      const billed = keys.reduce((sum, k) => sum + k.completionTokens, 0);
      const credited = ledger.reduce((sum, e) => sum + e.completionTokens, 0);
      expect(billed).toBe(credited);
      const clientJobs = (await c.repo.listJobs()).filter((j) => j.purpose === "client");
      expect(clientJobs.every((j) => j.apiKeyId !== null)).toBe(true);
    });
  });
}

describe("canaries (sqlite)", () => {
  let c: Coord;
  const pool: SimWorker[] = [];
  beforeAll(async () => {
    c = await start({ auditFraction: 0, auditDeterministicFraction: 0, auditCanaryFraction: 1 });
    await addModel(c.repo);
  });
  afterAll(async () => {
    for (const w of pool) w.close();
    await c.cleanup();
  });

  test("canaries registered with the CLI catch a cheater; the honest worker passes them", async () => {
    for (const p of ["the old lighthouse", "a red balloon"]) {
      const r = await admin(c, null, "canaries", "add", "--model", MODEL, "--prompt", p, "--expected", reply(p), "--max-tokens", "32");
      expect(r.code).toBe(0);
    }
    expect((await admin(c, null, "canaries", "add", "--model", "nope", "--prompt", "x", "--expected", "y")).err).toContain(
      "no model with id nope",
    );
    const listed = await admin(c, null, "canaries", "list");
    expect(listed.out).toContain("the old lighthouse");

    const good = await connect(c, honest, pool);
    const cheat = await connect(c, cheater, pool);
    const client = new OpenAI({ baseURL: `${c.apiUrl}/v1`, apiKey: await apiKey(c.repo), maxRetries: 0 });
    for (let i = 0; i < 20 && (await c.repo.getWorker(cheat.id.nodeId))?.quarantinedAt == null; i++) {
      await Promise.all(
        [0, 1].map((k) => client.completions.create({ model: MODEL, prompt: `job ${i}.${k}`, max_tokens: 32, temperature: 0 })),
      );
      await until(async () => (await c.repo.listAudits({ status: ["running"] })).length === 0, 10_000, "canaries");
    }
    const w = await c.repo.getWorker(cheat.id.nodeId);
    expect(w?.quarantinedAt).not.toBeNull();
    expect(w?.quarantineReason).toContain("canary");
    const honestRow = await c.repo.getWorker(good.id.nodeId);
    expect(honestRow).toMatchObject({ quarantinedAt: null, auditMismatches: 0 });
    expect(honestRow?.auditMatches).toBeGreaterThan(0);
    console.log(`canaries: cheater quarantined after ${w?.auditMismatches} wrong canary answers; honest passed ${honestRow?.auditMatches}`);
    // canaries look like ordinary completions to the worker
    const canaryJobs = (await c.repo.listJobs()).filter((j) => j.purpose === "canary");
    const prompts = new Set(cheat.assignments.map((a) => a.prompt));
    expect(canaryJobs.some((j) => prompts.has((j.request as { prompt?: string }).prompt))).toBe(true);
    const removed = await admin(c, null, "canaries", "remove", (await c.repo.listCanaries())[0]?.id as string);
    expect(removed.code).toBe(0);
    expect(await c.repo.listCanaries()).toHaveLength(1);
  });
});

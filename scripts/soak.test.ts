// The soak suite's short versions (every fault part, SQLite and Postgres where it applies) and the runner itself.
import { expect, setDefaultTimeout, test } from "bun:test";
import { postgresTestsDisabled } from "../coordinator/src/db/testing.ts";
import { QUICK_DROPS, runDrops } from "./soak/drops.ts";
import { killCoordinator } from "./soak/kill-coordinator.ts";
import { killWorker } from "./soak/kill-worker.ts";
import type { PartResult, SoakPart } from "./soak/part.ts";
import { partition } from "./soak/partition.ts";
import { postgresBinDir } from "./soak/pg-cluster.ts";
import { pgRestart, RESUME_LIMIT_S } from "./soak/pg-restart.ts";
import { PartitionProxy } from "./soak/proxy.ts";
import { sigstop } from "./soak/sigstop.ts";
import { runSoak, selectParts, table } from "./soak.ts";

setDefaultTimeout(120_000);

const quiet = () => {};

async function quick(part: SoakPart, postgres: boolean): Promise<PartResult> {
  if (postgres && postgresTestsDisabled()) throw new Error(`Postgres is needed: ${postgresTestsDisabled()}`);
  const r = await part.run({ quick: true, postgres, log: quiet });
  if (!r.pass) console.error(`${part.name}: ${r.failures.join("\n")}\nfigures: ${JSON.stringify(r.figures)}`);
  return r;
}

/** What every fault part must show: jobs ran, none lost, duplicated or paid twice, each ended visibly. */
function expectClean(r: PartResult): void {
  expect(r.failures).toEqual([]);
  expect(r.pass).toBe(true);
  const t = r.totals;
  if (!t) throw new Error(`${r.part} reported no totals`);
  expect(t.accepted).toBeGreaterThan(0);
  expect({ lost: t.lost, duplicated: t.duplicated, double_credited: t.double_credited }).toEqual({
    lost: 0,
    duplicated: 0,
    double_credited: 0,
  });
  expect(t.completed + t.failed_visibly).toBe(t.accepted);
}

for (const postgres of [false, true]) {
  const store = postgres ? "Postgres" : "SQLite";
  test(`drops on ${store}: workers' sockets dropped mid-job`, async () => {
    // on Postgres a shorter run than --quick's 150 jobs keeps this file within its time
    if (postgres && postgresTestsDisabled()) throw new Error(`Postgres is needed: ${postgresTestsDisabled()}`);
    const jobs = postgres ? 60 : QUICK_DROPS.jobs;
    const r = await runDrops({ ...QUICK_DROPS, jobs }, { quick: true, postgres, log: quiet });
    expectClean(r);
    expect(r.totals?.accepted).toBe(jobs);
    expect(r.figures.workers_dropped as number).toBeGreaterThan(0);
  });
}

// (the whole file stays under 2 minutes on a 2-core machine: each remaining part runs on one store;
// the partition covers Postgres fencing, the stopped worker SQLite's)
test("kill-worker --quick on SQLite: worker processes SIGKILLed while holding jobs", async () => {
  const r = await quick(killWorker, false);
  expectClean(r);
  expect(r.figures.workers_killed).toBe(3);
  expect(r.figures.jobs_held_at_kill as number).toBeGreaterThanOrEqual(3);
  expect(r.figures.replace_s_max as number).toBeLessThan(15);
});

test("kill-coordinator --quick (Postgres): coordinator SIGKILLed under load and restarted", async () => {
  const r = await quick(killCoordinator, true);
  expectClean(r);
  expect(r.figures.coordinator_kills).toBe(2);
  expect(r.figures.reconnect_s_max as number).toBeLessThan(15);
});

test("pg-restart --quick: a private Postgres cluster stopped and started under load", async () => {
  // a private cluster needs the server binaries (initdb, pg_ctl); say so rather than skip silently
  if (!postgresBinDir()) throw new Error("pg-restart needs /usr/lib/postgresql/*/bin (initdb, pg_ctl)");
  const r = await quick(pgRestart, true);
  expectClean(r);
  expect(r.figures.pg_restarts).toBe(1);
  expect(r.figures.resume_s_max as number).toBeLessThan(RESUME_LIMIT_S);
});

test("partition --quick on Postgres: a worker cut off past its lease, then healed", async () => {
  const r = await quick(partition, true);
  expectClean(r);
  expect(r.figures.stale_attempts_refused as number).toBeGreaterThan(0);
  expect(r.figures.stale_attempts_refused).toBe(r.figures.stale_attempts as number);
  expect(r.figures.back_s_max as number).toBeLessThan(15);
});

test("sigstop --quick on SQLite: a worker stopped past its lease and heartbeat timeout, then continued", async () => {
  const r = await quick(sigstop, false);
  expectClean(r);
  expect(r.figures.stale_attempts_refused as number).toBeGreaterThan(0);
  expect(r.figures.stale_attempts_refused).toBe(r.figures.stale_attempts as number);
  expect(r.figures.back_s_max as number).toBeLessThan(15);
});

test("the proxy holds bytes while partitioned and delivers them in order after healing", async () => {
  const got: string[] = [];
  const echo = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (s, d) => void s.write(d) } });
  const proxy = new PartitionProxy("127.0.0.1", echo.port);
  const client = await Bun.connect({ hostname: "127.0.0.1", port: proxy.port, socket: { data: (_s, d) => void got.push(d.toString()) } });
  try {
    client.write("a");
    await Bun.sleep(100);
    expect(got.join("")).toBe("a");
    proxy.partition();
    client.write("b");
    client.write("c");
    await Bun.sleep(200);
    expect(got.join("")).toBe("a");
    proxy.heal();
    await Bun.sleep(200);
    expect(got.join("")).toBe("abc");
  } finally {
    client.end();
    proxy.stop();
    echo.stop(true);
  }
});

test("the runner sums the parts, fails when one fails or throws, and names unknown parts", async () => {
  const totals = { accepted: 3, completed: 2, failed_visibly: 1, lost: 0, duplicated: 0, double_credited: 0 };
  const ok: SoakPart = { name: "ok", describe: "", run: async () => ({ part: "ok", pass: true, totals, figures: { x: 1 }, failures: [] }) };
  const bad: SoakPart = {
    name: "bad",
    describe: "",
    run: async () => ({ part: "bad", pass: false, totals: { ...totals, lost: 1 }, figures: {}, failures: ["1 lost"] }),
  };
  const boom: SoakPart = {
    name: "boom",
    describe: "",
    run: async () => {
      throw new Error("kaput");
    },
  };
  const good = await runSoak([ok, ok], { quick: true, postgres: false, log: quiet });
  expect(good.pass).toBe(true);
  expect(good.accepted).toBe(6);
  const r = await runSoak([ok, bad, boom], { quick: true, postgres: false, log: quiet });
  expect(r.pass).toBe(false);
  expect({ accepted: r.accepted, lost: r.lost, completed: r.completed }).toEqual({ accepted: 6, lost: 1, completed: 4 });
  expect(r.parts.boom?.failures[0]).toContain("kaput");
  expect(r.parts.bad?.pass).toBe(false);
  expect(table(r)).toContain("boom");
  expect(() => selectParts(["drops", "nope"])).toThrow(/unknown soak part\(s\): nope \(known: drops, /);
  expect(selectParts(["sigstop", "drops"]).map((p) => p.name)).toEqual(["drops", "sigstop"]);
});

test("bun run soak refuses an unknown part before running anything", async () => {
  const p = Bun.spawn(["bun", `${import.meta.dir}/soak.ts`, "--only", "nope"], { stdout: "pipe", stderr: "pipe" });
  expect(await p.exited).toBe(2);
  expect(await new Response(p.stderr).text()).toContain("unknown soak part(s): nope");
});

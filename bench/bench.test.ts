// Every bench part at tiny sizes through its command line: the table, then a last stdout line of JSON with sane figures.
import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { postgresTestsDisabled } from "../coordinator/src/db/testing.ts";

setDefaultTimeout(90_000);
const noPostgres = postgresTestsDisabled();
if (noPostgres) console.warn(`bench:coordinator is tested on SQLite only: ${noPostgres}`);
const STORES = noPostgres ? ["sqlite"] : ["sqlite", "postgres"];
const ROOT = join(import.meta.dir, "..");

/** Runs a bench script; returns its last stdout line parsed, and the text before it. */
async function bench(script: string, args: string[]): Promise<{ json: unknown; human: string }> {
  const p = Bun.spawn(["bun", join(ROOT, script), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${script} exited ${code}: ${err.slice(-800)}`);
  const lines = out.trimEnd().split("\n");
  return { json: JSON.parse(lines.pop() as string), human: lines.join("\n") };
}

type Row = Record<string, number | string | boolean | null>;

/** bench:batch at tiny sizes: one thread, 8-token prompts, 8 tokens per job, one rep. */
const tinyBatch = (sequences: string, ...extra: string[]) =>
  bench("bench/batch.ts", ["--threads", "1", "--sequences", sequences, "--tokens", "8", "--prompt-tokens", "8", "--reps", "1", ...extra]);

test("bench:batch — concurrent temperature-0 outputs equal each prompt alone; rates positive; the C loop anchor runs", async () => {
  const { json, human } = await tinyBatch("1,4");
  const rows = json as Row[];
  expect(rows.map((r) => r.sequences)).toEqual([1, 4]);
  for (const r of rows) {
    expect(r.outputs_equal).toBe(true);
    expect(r.outputs_mismatched).toBe(0);
    expect(r.gogrid_tps as number).toBeGreaterThan(0);
    expect(r.c_loop_error ?? null).toBeNull();
    expect(r.c_loop_tps as number).toBeGreaterThan(0);
  }
  expect(rows[0]?.gogrid_ratio_vs_1).toBe(1);
  expect(human).toContain("outputs = alone");
  // on the CPU build the C loop's own first sequence is unchanged by the batch (its token hash)
  expect(rows[0]?.c_loop_seq0_equal_alone).toBeNull(); // the 1-job case is the reference
  expect(rows[1]?.c_loop_seq0_equal_alone).toBe(true);
  for (const r of rows) {
    expect(r.kv_unified).toBe(false);
    expect(r.device).toBe("CPU");
    expect(r.goal_met).toBeNull(); // judged on a GPU only
  }
});

test("bench:batch --kv-unified — GoGrid and the C loop both run with one KV buffer for all sequences", async () => {
  const { json, human } = await tinyBatch("1,2", "--kv-unified");
  const rows = json as Row[];
  for (const r of rows) {
    expect(r.kv_unified).toBe(true);
    expect(r.gogrid_tps as number).toBeGreaterThan(0);
    expect(r.c_loop_error ?? null).toBeNull();
    expect(r.c_loop_tps as number).toBeGreaterThan(0);
  }
  expect(human).toContain("unified KV");
});

test("bench:batch --mixed-lengths — jobs that end between busy ones are moved into their holes; texts still equal alone", async () => {
  const on = (await tinyBatch("1,4", "--mixed-lengths")).json as Row[];
  const off = (await tinyBatch("1,4", "--mixed-lengths", "--no-fill-holes")).json as Row[];
  for (const rows of [on, off]) {
    for (const r of rows) {
      expect(r.mixed_lengths).toBe(true);
      expect(r.outputs_equal).toBe(true);
      expect(String(r.c_loop_error)).toContain("skipped (--mixed-lengths");
    }
  }
  expect(on[1]?.moves_per_run as number).toBeGreaterThan(0); // 4 jobs of 2, 6, 3 and 6 tokens
  expect(off[1]?.moves_per_run).toBe(0);
  expect(off[1]?.fill_holes).toBe(false);
});

test("bench:batch and bench:engine name a bad --backend", async () => {
  for (const script of ["bench/batch.ts", "native/bench/engine.ts"]) {
    const p = Bun.spawn(["bun", join(ROOT, script), "--backend", "opencl"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(2);
    expect(err).toContain("opencl");
  }
});

test("bench:coordinator — every job completes on SQLite and Postgres; jobs/s and latencies positive; pg-boss anchor labelled published", async () => {
  const args = [
    "--stores",
    STORES.join(","),
    "--modes",
    "serial,rate",
    "--seconds",
    "1",
    "--rate",
    "50",
    "--rate-seconds",
    "1",
    "--rate-warmup-seconds",
    "1",
    "--workers",
    "2",
    "--clients",
    "1",
  ];
  const { json, human } = await bench("bench/coordinator.ts", args);
  const rows = json as Row[];
  expect(rows.map((r) => `${r.store} ${r.mode}`)).toEqual(STORES.flatMap((s) => [`${s} serial`, `${s} rate`]));
  for (const r of rows) {
    expect(r.jobs_completed as number).toBeGreaterThan(0);
    expect(r.jobs_completed).toBe(r.jobs_sent);
    expect(r.jobs_failed).toBe(0);
    expect(r.jobs_wrong).toBe(0);
    expect(r.jobs_per_s as number).toBeGreaterThan(0);
    expect(r.p50_ms as number).toBeGreaterThan(0);
    expect(r.p99_ms as number).toBeGreaterThanOrEqual(r.p50_ms as number);
    expect(r.coordinator_cpu_pct as number).toBeGreaterThan(0);
    expect(r.pg_boss_published_jobs_per_s).toBe(2387);
    expect(r.goal_met).toBeNull(); // judged only at 1,000/s for 60 s
  }
  expect(human).toContain("published");
});

test("bench:relay and bench:connections — tokens arrive as sent; every worker connects and its heartbeats are acknowledged", async () => {
  const [relay, conn] = await Promise.all([
    bench("bench/relay.ts", ["--seconds", "1", "--streams", "4", "--chunks", "50", "--workers", "2", "--clients", "1"]),
    bench("bench/connections.ts", ["--workers", "12", "--processes", "2", "--heartbeat-secs", "1", "--seconds", "2"]),
  ]);
  const r = relay.json as Row;
  expect(r.jobs_completed as number).toBeGreaterThan(0);
  expect(r.jobs_failed).toBe(0);
  expect(r.jobs_wrong).toBe(0);
  expect(r.tokens_received).toBe((r.jobs_completed as number) * 50);
  expect(r.tokens_per_s as number).toBeGreaterThan(0);
  const c = conn.json as Row;
  expect(c.workers_connected).toBe(12);
  expect(c.gateway_ready_sockets).toBe(12);
  expect(c.sockets_open_at_end).toBe(12);
  expect(c.heartbeats_sent as number).toBeGreaterThan(0);
  // a beat sent at either edge of the window may be acknowledged on the other side of it
  expect(Math.abs((c.heartbeat_acks as number) - (c.heartbeats_sent as number))).toBeLessThanOrEqual(12);
  expect(c.coordinator_rss_mb as number).toBeGreaterThan(0);
  expect(c.goal_met).toBeNull();
});

test("bench:idle — a real worker connects and is measured", async () => {
  const { json } = await bench("bench/idle.ts", ["--warmup", "1", "--seconds", "2"]);
  const r = json as Row;
  expect(r.worker_connected).toBe(true);
  expect(r.warmup_seconds as number).toBeGreaterThanOrEqual(0.9); // the start-up window, reported apart
  expect(r.warmup_cpu_pct as number).toBeGreaterThanOrEqual(0);
  expect(r.worker_rss_mb as number).toBeGreaterThan(10);
  expect(r.worker_cpu_pct as number).toBeGreaterThanOrEqual(0);
  expect(typeof r.goal_met).toBe("boolean");
});

test("bench:sizes and bun run bench — files measured, missing ones listed; the suite's last line holds every part run", async () => {
  const dist = mkdtempSync(join(tmpdir(), "gogrid-bench-dist-"));
  try {
    mkdirSync(join(dist, "bin", "bun-linux-x64"), { recursive: true });
    mkdirSync(join(dist, "installers"), { recursive: true });
    writeFileSync(join(dist, "bin", "bun-linux-x64", "gogrid-worker"), new Uint8Array(3 * 2 ** 20));
    writeFileSync(join(dist, "installers", "gogrid-worker_0.1.0_amd64.deb"), new Uint8Array(2 ** 20));
    const { json } = await bench("bench/sizes.ts", ["--dist", dist, "--no-build"]);
    const r = json as {
      binaries: { path: string; mib: number }[];
      installers: unknown[];
      not_measured: string[];
      binaries_total_mib: number;
    };
    expect(r.binaries).toEqual([{ path: "bin/bun-linux-x64/gogrid-worker", bytes: 3 * 2 ** 20, mib: 3 } as never]);
    expect(r.installers).toHaveLength(1);
    expect(r.not_measured).toContain("bin/bun-linux-x64/gogrid-tray");
    expect(r.not_measured).toContain("installers/*.rpm");
    expect(r.not_measured).not.toContain("installers/*.deb");
    const all = await bench("bench/all.ts", ["--quick", "--parts", "sizes"]);
    const a = all.json as Record<string, unknown>;
    expect(Object.keys(a)).toEqual(["sizes"]);
    expect(all.human).toContain("=== sizes");
  } finally {
    rmSync(dist, { recursive: true, force: true });
  }
});

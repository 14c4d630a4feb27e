// `bun run bench:idle`: a real worker process with no job — its CPU % and RSS over a window after warm-up (goal ≤ 0.2%, ≤ 120 MB).
//
// A coordinator runs in a child process; the worker is `bun worker/src/main.ts run` with its own
// GOGRID_HOME, enrolled with a fresh token, heartbeating at the coordinator's default interval.
// Two windows: the warm-up right after it connects (reported: start-up's tail, JIT compiles of
// the code idle runs; about 0.3% of a core for ~30 s here) and then the steady idle the goal is
// judged on (what a contributor's machine sees for hours). Last stdout line: one JSON object.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "./flags.ts";
import { watchProcess } from "./proc-stats.ts";
import { finish, machine, progress, round, table, verdict } from "./report.ts";
import { closeAll, startCoordinatorChild } from "./stack.ts";

export const IDLE_GOALS = { cpu_pct: 0.2, rss_mb: 120 };
const WORKER_MAIN = join(import.meta.dir, "..", "worker", "src", "main.ts");

export interface IdleOptions {
  warmupSeconds: number;
  seconds: number;
  heartbeatSecs: number;
  log: (line: string) => void;
}

/** Child processes of `pid` (the worker may start helpers). */
function childrenOf(pid: number): number[] {
  const p = Bun.spawnSync(["sh", "-c", `cat /proc/${pid}/task/*/children 2>/dev/null`], { stdout: "pipe" });
  return p.stdout.toString().split(/\s+/).filter(Boolean).map(Number);
}

export async function benchIdle(o: IdleOptions): Promise<Record<string, unknown>> {
  const c = await startCoordinatorChild({ postgres: false, heartbeatSecs: o.heartbeatSecs });
  const home = mkdtempSync(join(tmpdir(), "gogrid-bench-idle-"));
  let worker: ReturnType<typeof Bun.spawn> | null = null;
  try {
    const token = ((await c.child.request("tokens 1")).tokens as string[])[0] as string;
    // e.g. GOGRID_BENCH_WORKER_BUN_FLAGS="--cpu-prof-md --cpu-prof-dir=/tmp/prof" to profile the idle worker
    const flags = (process.env.GOGRID_BENCH_WORKER_BUN_FLAGS ?? "").split(" ").filter(Boolean);
    worker = Bun.spawn(["bun", ...flags, WORKER_MAIN, "run", "--token", token, "--server", c.apiUrl], {
      env: { ...process.env, GOGRID_HOME: home },
      stdout: "ignore",
      stderr: "pipe",
    });
    let said = "";
    const stderr = worker.stderr as ReadableStream<Uint8Array>;
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stderr) said = (said + dec.decode(chunk, { stream: true })).slice(-2000);
    })();
    const deadline = performance.now() + 60_000;
    while (Number((await c.child.request("workers")).connected) < 1) {
      if (worker.exitCode !== null) throw new Error(`the worker exited with code ${worker.exitCode}: ${said.trim().slice(-500)}`);
      if (performance.now() > deadline) throw new Error("the worker did not connect within 60 s");
      await Bun.sleep(200);
    }
    o.log(`worker ${worker.pid} connected; warming up ${o.warmupSeconds} s, then measuring ${o.seconds} s`);
    const warm = watchProcess(worker.pid, 500);
    if (!warm) throw new Error("cannot read /proc: bench:idle needs Linux");
    await Bun.sleep(o.warmupSeconds * 1000);
    const start = warm.stop();
    const w = watchProcess(worker.pid, 500);
    if (!w) throw new Error("cannot read /proc: bench:idle needs Linux");
    await Bun.sleep(o.seconds * 1000);
    const win = w.stop();
    const helpers = childrenOf(worker.pid).length;
    const connected = Number((await c.child.request("workers")).connected);
    return {
      seconds: round(win.seconds, 1),
      heartbeat_secs: o.heartbeatSecs,
      worker_connected: connected === 1,
      worker_cpu_s: round(win.cpu_s, 3),
      worker_cpu_pct: round(win.cpu_pct, 3),
      worker_rss_mb: round(win.rss_mb_end, 1),
      worker_rss_max_mb: round(win.rss_mb_max, 1),
      worker_child_processes: helpers,
      warmup_seconds: round(start.seconds, 1),
      warmup_cpu_pct: o.warmupSeconds > 0 ? round(start.cpu_pct, 3) : null,
      goal_cpu_pct: IDLE_GOALS.cpu_pct,
      goal_rss_mb: IDLE_GOALS.rss_mb,
      goal_met: connected === 1 && win.cpu_pct <= IDLE_GOALS.cpu_pct && win.rss_mb_max <= IDLE_GOALS.rss_mb,
    };
  } finally {
    if (worker) {
      worker.kill("SIGTERM");
      const t = setTimeout(() => worker?.kill("SIGKILL"), 10_000);
      await worker.exited;
      clearTimeout(t);
    }
    await closeAll([c.child]);
    rmSync(home, { recursive: true, force: true });
  }
}

export function idleTable(r: Record<string, unknown>): string {
  return table(
    [
      "warm-up s",
      "CPU % then",
      "seconds",
      "connected",
      "CPU %",
      "RSS MB",
      "RSS max MB",
      "helpers",
      `goal ≤ ${IDLE_GOALS.cpu_pct}% ≤ ${IDLE_GOALS.rss_mb} MB`,
    ],
    [
      [
        r.warmup_seconds,
        r.warmup_cpu_pct ?? "-",
        r.seconds,
        r.worker_connected,
        r.worker_cpu_pct,
        r.worker_rss_mb,
        r.worker_rss_max_mb,
        r.worker_child_processes,
        verdict(r.goal_met as boolean),
      ],
    ],
  );
}

if (import.meta.main) {
  const FLAGS = {
    warmup: { type: "string", default: "60", description: "seconds after connecting before the steady window (measured apart)" },
    seconds: { type: "string", default: "60", description: "seconds of steady idle measured" },
    "heartbeat-secs": { type: "string", default: "15", description: "heartbeat interval the coordinator asks for" },
    quick: { type: "boolean", default: false, description: "a short smoke run (2 s warm-up, 5 s measured)" },
  } as const;
  const f = parseFlags("bench:idle", FLAGS, Bun.argv.slice(2));
  const quick = f.bool("quick");
  const r = await benchIdle({
    warmupSeconds: quick ? 2 : f.num("warmup", 0, true),
    seconds: quick ? 5 : f.num("seconds", 1, true),
    heartbeatSecs: f.num("heartbeat-secs", 1),
    log: progress("idle"),
  });
  const head = `bench:idle — ${machine()}; a real worker (bun worker/src/main.ts run) with no job; CPU % of one core`;
  finish(`${head}\n\n${idleTable(r)}\n`, r);
}

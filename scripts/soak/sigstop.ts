// Fault: SIGSTOP a worker process past its lease, then SIGCONT: its late output is fenced out, it works again.
import type { SoakPart } from "./part.ts";
import { backAfter, checkStale, runWorkerFaults } from "./worker-faults.ts";

const LEASE_SECS = 2;

export const sigstop: SoakPart = {
  name: "sigstop",
  describe: "SIGSTOP a worker mid-job past its lease, then SIGCONT: jobs re-leased, late results fenced out, worker back",
  run: (opts) =>
    runWorkerFaults(
      {
        name: "sigstop",
        workers: 3,
        capacity: 1,
        concurrency: 4,
        minJobs: opts.quick ? 20 : 300,
        faults: opts.quick ? 1 : 10,
        leaseSecs: LEASE_SECS,
        chunkDelayMs: 40,
        viaProxy: false,
        // the coordinator's heartbeat timeout passes while the worker is stopped
        offlineAfterSecs: 3,
        heartbeatMs: 1000,
        async inject(ctx, victim) {
          const held = victim.holding();
          const at = Date.now();
          victim.signal("SIGSTOP");
          // past the lease and the heartbeat timeout (3 s), plus the next housekeeping tick
          await Bun.sleep(Math.max(LEASE_SECS, 3) * 1000 + 2500);
          const offline = (await ctx.c.repo.getWorker(victim.node))?.status === "offline";
          const resumedAt = Date.now();
          victim.signal("SIGCONT");
          const stale = await checkStale(ctx, victim, held, at, 10_000);
          const back = await backAfter(ctx, victim, resumedAt, 15_000);
          const failures = [...stale.failures];
          if (back === null) failures.push(`${victim.node} did not complete a job within 15 s of SIGCONT`);
          if (!offline) failures.push(`${victim.node} was stopped past its heartbeat timeout but not marked offline`);
          return {
            figures: { stops: 1, stale_attempts: stale.stale, stale_attempts_refused: stale.refused, back_s_max: back ?? 99 },
            failures,
          };
        },
      },
      opts,
    ),
};

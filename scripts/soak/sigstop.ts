// Fault: SIGSTOP a worker process past its lease, then SIGCONT: its late output is fenced out, it works again.
import type { SoakPart } from "./part.ts";
import { runWorkerFaults, staleThenBack } from "./worker-faults.ts";

const LEASE_SECS = 2;
/** The coordinator's heartbeat timeout in this part: it passes while the worker is stopped. */
const OFFLINE_AFTER_SECS = 3;

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
        offlineAfterSecs: OFFLINE_AFTER_SECS,
        heartbeatMs: 1000,
        async inject(ctx, victim) {
          const held = victim.holding();
          const at = Date.now();
          victim.signal("SIGSTOP");
          // past the lease and the heartbeat timeout, plus the next housekeeping tick
          await Bun.sleep(Math.max(LEASE_SECS, OFFLINE_AFTER_SECS) * 1000 + 2500);
          const offline = (await ctx.c.repo.getWorker(victim.node))?.status === "offline";
          const r = await staleThenBack(ctx, victim, held, at, () => victim.signal("SIGCONT"), "stops", "SIGCONT");
          if (!offline) r.failures.push(`${victim.node} was stopped past its heartbeat timeout but not marked offline`);
          return r;
        },
      },
      opts,
    ),
};

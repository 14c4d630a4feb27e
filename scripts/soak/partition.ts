// Fault: cut one worker's network (a proxy stops forwarding) past its lease, then heal it.
import type { SoakPart } from "./part.ts";
import { backAfter, checkStale, runWorkerFaults } from "./worker-faults.ts";

const LEASE_SECS = 2;

export const partition: SoakPart = {
  name: "partition",
  describe: "a worker's network silently stops past its lease, then heals: its jobs are re-leased, its late results fenced out",
  run: (opts) =>
    runWorkerFaults(
      {
        name: "partition",
        workers: 3,
        capacity: 1,
        concurrency: 4,
        minJobs: opts.quick ? 20 : 300,
        faults: opts.quick ? 1 : 10,
        leaseSecs: LEASE_SECS,
        chunkDelayMs: 40,
        viaProxy: true,
        async inject(ctx, victim) {
          const proxy = ctx.proxies.get(victim);
          if (!proxy) throw new Error("partition: the victim has no proxy");
          const held = victim.holding();
          const at = Date.now();
          proxy.partition();
          // past the lease and the next housekeeping tick, so the job is re-leased
          await Bun.sleep(LEASE_SECS * 1000 + 2500);
          const healedAt = Date.now();
          proxy.heal();
          const stale = await checkStale(ctx, victim, held, at, 10_000);
          const back = await backAfter(ctx, victim, healedAt, 15_000);
          const failures = [...stale.failures];
          if (back === null) failures.push(`${victim.node} did not complete a job within 15 s of healing`);
          return {
            figures: { partitions: 1, stale_attempts: stale.stale, stale_attempts_refused: stale.refused, back_s_max: back ?? 99 },
            failures,
          };
        },
      },
      opts,
    ),
};

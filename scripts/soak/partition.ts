// Fault: cut one worker's network (a proxy stops forwarding) past its lease, then heal it.
import type { SoakPart } from "./part.ts";
import { runWorkerFaults, staleThenBack } from "./worker-faults.ts";

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
          return await staleThenBack(ctx, victim, held, at, () => proxy.heal(), "partitions", "healing");
        },
      },
      opts,
    ),
};

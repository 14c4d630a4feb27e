// Fault: kill -9 a worker process while it holds a job; its jobs run elsewhere and a new worker replaces it.
import type { SoakPart } from "./part.ts";
import { runWorkerFaults } from "./worker-faults.ts";

export const killWorker: SoakPart = {
  name: "kill-worker",
  describe: "SIGKILL a worker process mid-job (x50 full, x3 quick); its jobs are re-leased, a replacement joins",
  run: (opts) =>
    runWorkerFaults(
      {
        name: "kill-worker",
        workers: 3,
        capacity: 2,
        concurrency: 6,
        minJobs: opts.quick ? 60 : 600,
        faults: opts.quick ? 3 : 50,
        leaseSecs: 5,
        chunkDelayMs: 15,
        viaProxy: false,
        async inject(ctx, victim) {
          const held = victim.holding();
          const at = Date.now();
          victim.signal("SIGKILL");
          await victim.proc.exited;
          ctx.workers.splice(ctx.workers.indexOf(victim), 1);
          const replacement = await ctx.spawn();
          const back = ((replacement.events.find((e) => e.ev === "welcome")?.t ?? Date.now()) - at) / 1000;
          const failures: string[] = [];
          if (back > 15) failures.push(`the replacement of ${victim.node} took ${back} s to join (limit 15 s)`);
          // every job it held runs again elsewhere (a new fence) and none of its attempts was accepted
          for (const [fence, job] of held) {
            if (ctx.fences.accepted.has(fence)) continue; // its result left before the kill
            const end = Date.now() + 20_000;
            let row = await ctx.c.repo.getJob(job);
            while (row && row.fence === fence && row.status === "running" && Date.now() < end) {
              await Bun.sleep(50);
              row = await ctx.c.repo.getJob(job);
            }
            if (row?.fence === fence && row.status === "running") failures.push(`job ${job} stayed on the killed worker for 20 s`);
          }
          return { figures: { workers_killed: 1, jobs_held_at_kill: held.size, replace_s_max: back }, failures };
        },
      },
      opts,
    ),
};

// Fault: stop and start a private Postgres cluster under load; the coordinator rides it out and no job is lost.
import { runServerFaults } from "./coordinator-faults.ts";
import type { SoakPart } from "./part.ts";
import { PgCluster } from "./pg-cluster.ts";

/** Longest wait for the first completed job after Postgres is back. */
export const RESUME_LIMIT_S = 60;

export const pgRestart: SoakPart = {
  name: "pg-restart",
  describe: "restart a private Postgres cluster (initdb/pg_ctl, own port) under load (x10 full, x1 quick); work resumes",
  run(opts) {
    let cluster: PgCluster | null = null;
    return runServerFaults(
      {
        name: "pg-restart",
        workers: 3,
        concurrency: 6,
        minJobs: opts.quick ? 15 : 400,
        faults: opts.quick ? 1 : 10,
        loadMs: opts.quick ? 500 : 3000,
        leaseSecs: 2,
        async database() {
          cluster = await PgCluster.create();
          const c = cluster;
          return { url: await c.createDb("gogrid_soak"), store: "postgres (private cluster)", release: () => c.destroy() };
        },
        async inject(ctx) {
          const c = cluster as PgCluster;
          const before = await ctx.repo.countJobs("completed");
          const running = await ctx.repo.countJobs("running");
          const t0 = Date.now();
          // alternate a clean shutdown and a crash (immediate: recovery on start)
          const mode = Math.random() < 0.5 ? "fast" : "immediate";
          let used: "fast" | "immediate";
          let startS: number;
          try {
            used = await c.stop(mode);
            await Bun.sleep(opts.quick ? 300 : 1000);
          } finally {
            startS = await c.start();
          }
          const upAt = Date.now();
          const failures: string[] = [];
          // work resumes: jobs complete again (read through the soak's own connection, which reconnects).
          // postgres.js backs off up to 20 s between reconnects after failed ones, so allow 60 s.
          let resumed: number | null = null;
          while (Date.now() - upAt < RESUME_LIMIT_S * 1000) {
            const n = await ctx.repo.countJobs("completed").catch(() => before);
            if (n > before) {
              resumed = (Date.now() - upAt) / 1000;
              break;
            }
            await Bun.sleep(100);
          }
          if (resumed === null) failures.push(`no job completed within ${RESUME_LIMIT_S} s of Postgres coming back`);
          if (!ctx.coordinator.alive()) {
            failures.push(`the coordinator exited during a Postgres restart (${mode}):\n${ctx.coordinator.log.slice(-1500)}`);
            await ctx.coordinator.start();
          }
          return {
            figures: {
              pg_restarts: 1,
              running_at_stop: running,
              pg_fast_stops_too_slow: mode === "fast" && used === "immediate" ? 1 : 0,
              pg_down_s_max: (upAt - t0) / 1000,
              pg_start_s_max: startS,
              resume_s_max: resumed ?? 99,
            },
            failures,
          };
        },
      },
      opts,
    );
  },
};

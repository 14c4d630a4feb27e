// Fault: kill -9 the coordinator process under load on Postgres, restart it on the same ports and data.
import { freshPostgresUrl, postgresTestsDisabled } from "../../coordinator/src/db/testing.ts";
import { runServerFaults, workersBack } from "./coordinator-faults.ts";
import type { SoakPart } from "./part.ts";

export const killCoordinator: SoakPart = {
  name: "kill-coordinator",
  describe: "SIGKILL the coordinator under load on Postgres and restart it (x20 full, x2 quick); workers back within 15 s",
  run: (opts) =>
    runServerFaults(
      {
        name: "kill-coordinator",
        workers: 3,
        concurrency: 6,
        minJobs: opts.quick ? 40 : 400,
        faults: opts.quick ? 2 : 20,
        loadMs: opts.quick ? 1500 : 2500,
        leaseSecs: 2,
        async database() {
          const off = postgresTestsDisabled();
          if (off) throw new Error(`kill-coordinator runs on Postgres: ${off}`);
          const pg = await freshPostgresUrl();
          return { url: pg.url, store: "postgres", release: () => pg.drop() };
        },
        async inject(ctx) {
          const running = await ctx.repo.countJobs("running");
          const killedAt = Date.now();
          await ctx.coordinator.kill("SIGKILL");
          await Bun.sleep(300); // down for a moment: clients and workers see connection errors
          const startS = await ctx.coordinator.start();
          const readyAt = Date.now();
          const back = await workersBack(ctx.workers, readyAt, 15_000);
          const failures: string[] = [];
          if (back === null) failures.push("a worker did not reconnect within 15 s of the coordinator's restart");
          return {
            figures: {
              coordinator_kills: 1,
              running_at_kill: running,
              coordinator_start_s_max: startS,
              down_s_max: (readyAt - killedAt) / 1000,
              reconnect_s_max: back ?? 99,
            },
            failures,
          };
        },
      },
      opts,
    ),
};

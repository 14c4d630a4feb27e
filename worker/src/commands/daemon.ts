// `gogrid-worker run | enroll | status | pause | resume`: the daemon and its local controls.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { isCompiledBinary } from "@gogrid/native";
import type { Command } from "commander";
import { intArg } from "../cli-args.ts";
import { configTemplate, loadWorkerConfig, type WorkerConfig, WorkerConfigError, writeFileAtomic } from "../config.ts";
import { controlRequest } from "../control.ts";
import { WorkerDaemon } from "../daemon.ts";
import { enrol, loadIdentity } from "../identity.ts";
import { Logger } from "../log.ts";
import { workerPaths } from "../paths.ts";
import { LAUNCHED_ENV, resolveLaunch, superviseRelease, UpdateStore } from "../update/index.ts";
import { WORKER_VERSION } from "../version.ts";

function fail(e: unknown): number {
  const err = e as Error & { code?: string };
  process.stderr.write(`gogrid-worker: ${err.message}${err.code ? ` [${err.code}]` : ""}\n`);
  return e instanceof WorkerConfigError ? 2 : 1;
}

function config(file: string): WorkerConfig {
  return loadWorkerConfig(file);
}

export function registerDaemonCommands(program: Command): void {
  const paths = () => workerPaths();

  program
    .command("run")
    .description("Run the worker: connect to the coordinator and serve jobs (until SIGINT/SIGTERM)")
    .option("--token <token>", "enrolment token, on first start (or GOGRID_ENROLMENT_TOKEN)")
    .option("--server <url>", "the coordinator's API URL for enrolment (overrides [server] api_url)")
    .option("--no-control", "do not serve the local control API")
    .action(async (o: { token?: string; server?: string; control: boolean }) => {
      try {
        const p = paths();
        const cfg = config(p.configFile);
        if (o.server) cfg.server.api_url = o.server;
        const logger = new Logger(cfg.logging.level, join(p.logDir, "worker.log"), cfg.logging.max_log_size_mb * 2 ** 20);
        // a newer release installed by the self-updater runs in place of this binary, supervised through its trial
        if (isCompiledBinary() && !process.env[LAUNCHED_ENV]) {
          const store = new UpdateStore(p.updatesDir);
          const target = await resolveLaunch(store, WORKER_VERSION, logger.log);
          if (target.kind === "release") {
            logger.log("info", `starting installed release ${target.version} (this binary is ${WORKER_VERSION})`);
            process.exit(
              await superviseRelease(store, target, { args: process.argv.slice(2), selfVersion: WORKER_VERSION, log: logger.log }),
            );
          }
        }
        const daemon = new WorkerDaemon({ config: cfg, paths: p, logger, ...(o.token ? { token: o.token } : {}), control: o.control });
        await daemon.start();
        logger.log(
          "info",
          `worker ${daemon.identity.nodeId} running (backend ${daemon.engine.backendName}); control at ${p.controlEndpoint}`,
        );
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await daemon.stop();
        process.exitCode = 0;
      } catch (e) {
        process.exitCode = fail(e);
      }
    });

  program
    .command("enroll")
    .description("Enrol this machine with a coordinator using a one-time token")
    .requiredOption("--token <token>", "enrolment token from the operator")
    .requiredOption("--server <url>", "the coordinator's API URL, e.g. https://grid.example")
    .option("--name <name>", "a name for this machine", hostname())
    .action(async (o: { token: string; server: string; name: string }) => {
      try {
        const p = paths();
        const id = await enrol(p.identityDir, o.server, o.token, o.name);
        if (!existsSync(p.configFile))
          writeFileAtomic(p.configFile, configTemplate({ url: id.workerUrl, apiUrl: o.server, pin: id.serverPin, name: o.name }));
        console.log(`enrolled as node ${id.nodeId}; certificate valid until ${new Date(id.notAfter).toISOString()}`);
      } catch (e) {
        process.exitCode = fail(e);
      }
    });

  const call = async (method: string, path: string, body?: unknown) => {
    try {
      console.log(JSON.stringify(await controlRequest(paths().controlEndpoint, method, path, body), null, 2));
    } catch (e) {
      process.exitCode = fail(e);
    }
  };

  program
    .command("status")
    .description("Show what the running worker is doing")
    .action(async () => {
      const p = paths();
      if (!(await loadIdentity(p.identityDir))) {
        console.log("not enrolled: run gogrid-worker enroll --token <token> --server <url>");
        return;
      }
      await call("GET", "/status");
    });
  program
    .command("pause")
    .description("Stop taking jobs (running ones finish)")
    .option("--for <seconds>", "resume by itself after this long", intArg("--for", 1))
    .action((o: { for?: number }) => call("POST", "/pause", o.for ? { duration_secs: o.for } : {}));
  program
    .command("resume")
    .description("Take jobs again")
    .action(() => call("POST", "/resume"));
}

// `bun run demo`: a coordinator (SQLite, its own dev CA) and one enrolled worker on loopback.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { addModel, createKey, createToken } from "../coordinator/src/admin/actions.ts";
import { loadConfig } from "../coordinator/src/config/load.ts";
import { startCoordinator } from "../coordinator/src/coordinator.ts";
import { setDashboardPassword } from "../coordinator/src/dashboard/index.ts";
import { writeTinyModel } from "../native/src/gguf/writer.ts";
import { validateConfig } from "../worker/src/config.ts";
import { WorkerDaemon } from "../worker/src/daemon.ts";
import { Logger } from "../worker/src/log.ts";
import { workerPaths } from "../worker/src/paths.ts";

const HELP = `usage: bun run demo [--api-port N] [--worker-port N] [--data-dir DIR] [--model PATH|URL]

Starts a coordinator (embedded SQLite, a dev CA in DIR/coordinator/pki) and one worker enrolled
with it, both on 127.0.0.1. Prints GOGRID_API_URL=… GOGRID_API_KEY=… when ready; Ctrl-C stops.
Without --model it writes a tiny random-weight model offline: its output is gibberish.
  --api-port      API port (default 8080; 0 = any free port)
  --worker-port   worker port (default 8443; 0 = any free port)
  --data-dir      where everything is kept (default .gogrid-dev)
  --model         a GGUF file or an http(s) URL of one`;

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    console.error(`demo: --${name} must be a port number from 0 to 65535, got "${value}"`);
    process.exit(2);
  }
  return Number(value);
}

/** The model file to serve: the given path, a download of the given URL, or a tiny offline model. */
async function modelFile(dataDir: string, model: string | undefined, say: (s: string) => void): Promise<{ id: string; path: string }> {
  if (!model) {
    const path = join(dataDir, "tiny-random.gguf");
    if (!existsSync(path)) await writeTinyModel(path);
    say(`no --model given: serving a tiny random-weight model made offline (${path}); its output is gibberish`);
    return { id: "tiny-random", path };
  }
  if (/^https?:\/\//.test(model)) {
    const path = join(dataDir, basename(new URL(model).pathname) || "model.gguf");
    if (!existsSync(path)) {
      say(`downloading ${model}`);
      const res = await fetch(model);
      if (!res.ok) throw new Error(`--model ${model}: HTTP ${res.status}`);
      await Bun.write(path, res);
    }
    return { id: basename(path).replace(/\.gguf$/i, ""), path };
  }
  const path = resolve(model);
  if (!existsSync(path)) throw new Error(`--model ${model}: no such file`);
  return { id: basename(path).replace(/\.gguf$/i, ""), path };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "api-port": { type: "string" },
      "worker-port": { type: "string" },
      "data-dir": { type: "string" },
      model: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const say = (s: string) => process.stderr.write(`[demo] ${s}\n`);
  const dataDir = resolve(values["data-dir"] ?? ".gogrid-dev");
  mkdirSync(dataDir, { recursive: true });

  const coordinatorConfig = {
    ...loadConfig({ env: {}, flags: { dataDir: join(dataDir, "coordinator") } }),
    apiHost: "127.0.0.1",
    workerHost: "127.0.0.1",
    apiPort: port("api-port", values["api-port"], 8080),
    workerPort: port("worker-port", values["worker-port"], 8443),
    logLevel: "warn",
  };
  const coordinator = await startCoordinator(coordinatorConfig, (level, m) => {
    if (level === "warn" || level === "error") say(`coordinator ${level}: ${m}`);
  });
  const model = await modelFile(dataDir, values.model, say);
  await addModel(coordinator.repo, model.id, { path: model.path }); // hashed, as gogrid-admin does
  const key = await createKey(coordinator.repo, "demo");
  // the dashboard's sign-in: a fresh password each run, shown once on stderr
  const dashboardPassword = randomBytes(12).toString("base64url");
  await setDashboardPassword(coordinatorConfig.dataDir, dashboardPassword);
  const token = await createToken(coordinator.repo, { ttlMs: 600_000, label: "demo worker" });

  const paths = workerPaths({ ...process.env, GOGRID_HOME: join(dataDir, "worker") });
  const workerConfig = validateConfig({
    server: { api_url: coordinator.apiUrl },
    client: { name: "demo-worker" },
    worker: { context_size: 2048 },
    logging: { level: "warn" },
  });
  const logger = new Logger("warn", join(paths.logDir, "worker.log"), 10 * 2 ** 20, false);
  // a worker enrolled by an earlier run with another CA cannot connect: enrol again
  const daemon = new WorkerDaemon({ config: workerConfig, paths, logger, token: token.token });
  await daemon.start();
  const deadline = Date.now() + 30_000;
  while (daemon.linkState !== "connected") {
    if (Date.now() > deadline) throw new Error(`the worker did not connect: ${daemon.link.detail}`);
    await Bun.sleep(50);
  }
  say(`model ${model.id}; worker ${daemon.identity.nodeId} on ${daemon.engine.backendName}; logs in ${paths.logDir}`);
  say(`dashboard ${coordinator.apiUrl}/dashboard, password ${dashboardPassword}`);
  console.log(
    `GOGRID_API_URL=${coordinator.apiUrl}/v1 GOGRID_API_KEY=${key.key} GOGRID_DASHBOARD=${coordinator.apiUrl}/dashboard GOGRID_MODEL=${model.id} GOGRID_CONTROL=${paths.controlEndpoint}`,
  );

  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  say("stopping");
  await daemon.stop();
  await coordinator.stop();
}

main().catch((e) => {
  console.error(`demo: ${(e as Error).message}`);
  process.exit(1);
});

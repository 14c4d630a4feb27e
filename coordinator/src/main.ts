#!/usr/bin/env bun
// gogrid-coordinator: runs the control server until SIGINT/SIGTERM. Every flag comes from SETTINGS.
import { Command } from "commander";
import pkg from "../package.json" with { type: "json" };
import { ConfigError, loadConfig } from "./config/load.ts";
import { envName, flagName, SETTINGS, type SettingName, type SettingSpec } from "./config/settings.ts";
import { consoleLog, startCoordinator } from "./coordinator.ts";

/** The commander attribute name of each setting's flag (--api-port → apiPort). */
function attributeOf(name: SettingName): string {
  return flagName(SETTINGS[name])
    .slice(2)
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function buildProgram(): Command {
  const program = new Command()
    .name("gogrid-coordinator")
    .description("GoGrid coordinator: enrols workers, queues jobs and serves the OpenAI-compatible API")
    .version(pkg.version, "-V, --version")
    .option("-c, --config <file>", "TOML configuration file (default: <data_dir>/coordinator.toml when it exists)")
    .helpOption("-h, --help", "show this help")
    .addHelpText("after", "\nEvery setting can also come from the TOML file (key in brackets) or the environment (GOGRID_<KEY>).\n")
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  for (const spec of Object.values(SETTINGS) as SettingSpec[]) {
    const def = Array.isArray(spec.default) ? spec.default.join(",") : String(spec.default);
    const choices = spec.choices ? `: ${spec.choices.join(" | ")}` : "";
    program.option(
      `${flagName(spec)} <${spec.type === "list" ? "a,b" : spec.type}>`,
      `${spec.description}${choices}${def ? ` (default: ${def})` : ""} [${spec.key}, ${envName(spec)}]`,
    );
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv);
  const opts = program.opts<Record<string, string | undefined>>();
  const flags: Partial<Record<SettingName, string>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = opts[attributeOf(name)];
    if (v !== undefined) flags[name] = v;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ flags, ...(opts.config ? { configFile: opts.config } : {}) });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`gogrid-coordinator: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = consoleLog(config.logLevel as "debug" | "info" | "warn" | "error");
  const coordinator = await startCoordinator(config, log);
  console.log(`GOGRID_API_URL=${coordinator.apiUrl}/v1 GOGRID_WORKER_URL=${coordinator.workerUrl}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  log("info", "shutting down");
  await coordinator.stop();
  return 0;
}

if (import.meta.main) process.exit(await main(process.argv));

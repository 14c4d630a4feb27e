// The daemon's updater: settings from config.toml and the build, the rest from the daemon's callbacks.
import { isCompiledBinary } from "@gogrid/native";
import type { WorkerConfig } from "../config.ts";
import type { WorkerPaths } from "../paths.ts";
import { WORKER_VERSION } from "../version.ts";
import { buildPlatform, rootPublicKeys } from "./build-info.ts";
import { UpdateStore } from "./state.ts";
import type { UpdaterOptions } from "./updater.ts";

type FromDaemon = Pick<UpdaterOptions, "tls" | "drain" | "undrain" | "restart" | "report" | "log">;

export function daemonUpdaterOptions(config: WorkerConfig, paths: WorkerPaths, d: FromDaemon): UpdaterOptions {
  return {
    ...d,
    store: new UpdateStore(paths.updatesDir),
    enabled: () => config.worker.enable_auto_update,
    channel: () => config.worker.update_channel,
    version: WORKER_VERSION,
    platform: buildPlatform(),
    rootKeys: rootPublicKeys(),
    currentBinary: isCompiledBinary() ? process.execPath : null,
    trialMs: config.worker.update_trial_secs * 1000,
  };
}

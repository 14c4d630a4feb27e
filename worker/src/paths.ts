// Where the worker keeps its files on each OS; GOGRID_HOME puts everything under one folder.
import { homedir } from "node:os";
import { join } from "node:path";

export interface WorkerPaths {
  /** config.toml */
  configFile: string;
  /** client key, certificate, CA, node id (files 0600) */
  identityDir: string;
  modelsDir: string;
  logDir: string;
  /** Self-update: installed releases (versions/<v>/) and state.json. */
  updatesDir: string;
  /** The local control API: a unix socket, or on Windows a file holding "port token". */
  controlEndpoint: string;
}

export function workerPaths(env: Record<string, string | undefined> = process.env, platform = process.platform): WorkerPaths {
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  let config: string;
  let data: string;
  if (env.GOGRID_HOME) {
    config = env.GOGRID_HOME;
    data = env.GOGRID_HOME;
  } else if (platform === "darwin") {
    config = join(home, "Library", "Application Support", "GoGrid");
    data = config;
  } else if (platform === "win32") {
    config = join(env.APPDATA ?? join(home, "AppData", "Roaming"), "GoGrid");
    data = join(env.PROGRAMDATA ?? join(home, "AppData", "Local"), "GoGrid");
  } else {
    config = join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "gogrid");
    data = join(env.XDG_DATA_HOME ?? join(home, ".local", "share"), "gogrid");
  }
  const runtime = platform === "linux" && env.XDG_RUNTIME_DIR && !env.GOGRID_HOME ? join(env.XDG_RUNTIME_DIR, "gogrid") : data;
  return {
    configFile: join(config, "config.toml"),
    identityDir: join(data, "identity"),
    modelsDir: join(data, "models"),
    logDir: join(data, "logs"),
    updatesDir: join(data, "updates"),
    controlEndpoint: platform === "win32" ? join(data, "control.json") : join(runtime, "control.sock"),
  };
}

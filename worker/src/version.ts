// The worker's version, reported to the coordinator and by --version (a release build fixes it at compile time).
import pkg from "../package.json" with { type: "json" };

export const WORKER_VERSION: string = process.env.GOGRID_BUILD_VERSION || pkg.version;

// The worker's version, reported to the coordinator and by --version.
import pkg from "../package.json" with { type: "json" };

export const WORKER_VERSION: string = pkg.version;

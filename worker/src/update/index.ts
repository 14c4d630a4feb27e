// Self-update: signed releases checked, staged, installed with a trial and rollback; the launcher picks what runs.
export { buildPlatform, rootPublicKeys } from "./build-info.ts";
export { LAUNCHED_ENV, RESTART_EXIT, resolveLaunch, superviseRelease } from "./launcher.ts";
export { emptyState, type UpdateState, UpdateStore } from "./state.ts";
export { Updater, type UpdaterOptions } from "./updater.ts";

// Every part `bun run soak` runs, in order: fault parts here, security and scale parts from their own files.
import { drops } from "./drops.ts";
import { killCoordinator } from "./kill-coordinator.ts";
import { killWorker } from "./kill-worker.ts";
import type { SoakPart } from "./part.ts";
import { partition } from "./partition.ts";
import { pgRestart } from "./pg-restart.ts";
import { scale } from "./scale.ts";
import { security } from "./security.ts";
import { sigstop } from "./sigstop.ts";

/** Fault injection (issue 9): workers dropped, killed, stopped and partitioned; coordinator and Postgres restarted. */
export const FAULT_PARTS: SoakPart[] = [drops, killWorker, killCoordinator, pgRestart, partition, sigstop];

/** Security probes: mTLS matrix and protocol fuzzing (scripts/soak/security.ts). */
export const SECURITY_PARTS: SoakPart[] = [security];

/** Scale runs (scripts/soak/scale.ts). */
export const SCALE_PARTS: SoakPart[] = [scale];

export const PARTS: SoakPart[] = [...FAULT_PARTS, ...SECURITY_PARTS, ...SCALE_PARTS];

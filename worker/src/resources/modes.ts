// Resource modes → the load thresholds (percent) above which the worker stops taking jobs.
import type { ResourceMode } from "@gogrid/protocol";
import { ResourceConfigError } from "./errors.ts";

export type { ResourceMode };

export const RESOURCE_MODES: readonly ResourceMode[] = ["conservative", "default", "aggressive"];

/** Percent of the whole machine at which each load counts as "busy". */
export interface Thresholds {
  readonly cpuPercent: number;
  readonly memoryPercent: number;
  readonly gpuPercent: number;
}

/** The seed's optional per-load overrides, in percent (1–100); absent keys keep the mode's value. */
export interface ResourceOverrides {
  readonly cpu?: number;
  readonly gpu?: number;
  readonly memory?: number;
}

export const MODE_THRESHOLDS: Readonly<Record<ResourceMode, Thresholds>> = {
  conservative: { cpuPercent: 50, memoryPercent: 70, gpuPercent: 50 },
  default: { cpuPercent: 70, memoryPercent: 80, gpuPercent: 70 },
  aggressive: { cpuPercent: 90, memoryPercent: 90, gpuPercent: 95 },
};

const OVERRIDE_KEYS = { cpu: "cpuPercent", gpu: "gpuPercent", memory: "memoryPercent" } as const;
type OverrideKey = keyof typeof OVERRIDE_KEYS;

export function isResourceMode(value: unknown): value is ResourceMode {
  return typeof value === "string" && (RESOURCE_MODES as readonly string[]).includes(value);
}

function isOverrideKey(key: string): key is OverrideKey {
  return Object.hasOwn(OVERRIDE_KEYS, key);
}

/** Checks overrides read from config or the wire; throws ResourceConfigError naming the bad key. */
export function validateOverrides(value: unknown): ResourceOverrides {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ResourceConfigError(
      "invalid_override",
      "overrides",
      "resource overrides must be an object like { cpu: 60, gpu: 80, memory: 85 }",
    );
  }
  const out: { cpu?: number; gpu?: number; memory?: number } = {};
  for (const [key, v] of Object.entries(value)) {
    if (!isOverrideKey(key)) {
      throw new ResourceConfigError("unknown_override", key, `unknown resource override "${key}": use cpu, gpu or memory (percent 1-100)`);
    }
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 1 || v > 100) {
      throw new ResourceConfigError(
        "invalid_override",
        key,
        `resource override "${key}" must be a percent from 1 to 100 (got ${JSON.stringify(v) ?? String(v)})`,
      );
    }
    out[key] = v;
  }
  return out;
}

/** Thresholds of `mode` with `overrides` applied; throws ResourceConfigError on a bad mode or override. */
export function thresholdsFor(mode: ResourceMode, overrides: ResourceOverrides = {}): Thresholds {
  if (!isResourceMode(mode)) {
    throw new ResourceConfigError(
      "invalid_resource_mode",
      "resource_mode",
      `unknown resource mode ${JSON.stringify(mode)}: use ${RESOURCE_MODES.join(", ")}`,
    );
  }
  const o = validateOverrides(overrides);
  const base = MODE_THRESHOLDS[mode];
  return {
    cpuPercent: o.cpu ?? base.cpuPercent,
    memoryPercent: o.memory ?? base.memoryPercent,
    gpuPercent: o.gpu ?? base.gpuPercent,
  };
}

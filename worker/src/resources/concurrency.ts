// max_concurrent_jobs = "auto": how many sequences fit beside the model in free memory (VRAM on a GPU, RAM otherwise).

export interface ConcurrencyInputs {
  /** f16 K+V bytes per token of context, all layers. */
  kvBytesPerToken: number;
  /** Tokens of context each sequence gets. */
  contextPerSequence: number;
  /** Free memory where the KV cache will live, measured before the model is loaded. */
  freeBytes: number;
  /** The model's weights (they take their share of the same memory). */
  modelBytes: number;
  /** The model runs on a GPU (VRAM): a higher ceiling than on the CPU. */
  onGpu: boolean;
}

export interface ConcurrencyDecision {
  jobs: number;
  /** One line for the log: the numbers behind the decision. */
  reason: string;
}

/** Most sequences "auto" picks: beyond these, more sequences only divide the same throughput. */
export const AUTO_MAX_JOBS = { cpu: 16, gpu: 64 } as const;
/** Kept free beyond the model and the KV cache: compute buffers, the OS, other programs. */
export const SAFETY_MARGIN = { minBytes: 1 * 2 ** 30, fraction: 0.15 } as const;

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * Sequences for "auto": (free − model − margin) ÷ (KV bytes per token × context per sequence),
 * clamped to 1..16 on the CPU and 1..64 on a GPU. The margin is the larger of 1 GiB and 15% of
 * the free memory. Never fewer than 1: with too little memory the load itself decides.
 */
export function autoConcurrency(i: ConcurrencyInputs): ConcurrencyDecision {
  for (const [key, v] of Object.entries(i)) {
    if (key !== "onGpu" && (typeof v !== "number" || !Number.isFinite(v) || v < 0)) {
      throw new RangeError(`autoConcurrency: ${key} must be a finite number ≥ 0 (got ${v})`);
    }
  }
  const ceiling = i.onGpu ? AUTO_MAX_JOBS.gpu : AUTO_MAX_JOBS.cpu;
  const where = i.onGpu ? "VRAM" : "RAM";
  const margin = Math.max(SAFETY_MARGIN.minBytes, i.freeBytes * SAFETY_MARGIN.fraction);
  const budget = i.freeBytes - i.modelBytes - margin;
  const perSequence = i.kvBytesPerToken * i.contextPerSequence;
  const fit = perSequence > 0 ? Math.floor(budget / perSequence) : ceiling;
  const jobs = Math.min(ceiling, Math.max(1, fit));
  const reason =
    `${jobs} concurrent job${jobs === 1 ? "" : "s"}: ${gib(i.freeBytes)} free ${where} − model ${gib(i.modelBytes)} − margin ${gib(margin)}` +
    ` = ${gib(Math.max(0, budget))} for KV cache at ${gib(perSequence)} per sequence (${i.contextPerSequence} tokens)` +
    (fit > ceiling ? `; capped at ${ceiling} on ${i.onGpu ? "a GPU" : "the CPU"}` : fit < 1 ? "; at least 1" : "");
  return { jobs, reason };
}

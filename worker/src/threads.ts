// How many CPU threads inference uses when nobody said.

/**
 * Inference threads when config.toml does not say: the machine belongs to its owner, and ggml's
 * threads spin-wait, so sharing every core with other programs is slow for everyone.
 */
export function threadsFor(mode: "conservative" | "default" | "aggressive", cores: number): number {
  const share = mode === "conservative" ? cores / 4 : mode === "default" ? cores / 2 : cores - 1;
  return Math.max(1, Math.floor(share));
}

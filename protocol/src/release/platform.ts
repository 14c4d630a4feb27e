// Which build a worker runs (platform key) and whether a staged rollout includes it.

/** `linux-x64`, `windows-x64`, `darwin-arm64` ..., with `-gpu` for the Vulkan flavour. */
export function platformKey(os: string, arch: string, flavour: "cpu" | "gpu" = "cpu"): string {
  const o = os === "win32" ? "windows" : os;
  return `${o}-${arch}${flavour === "gpu" ? "-gpu" : ""}`;
}

/**
 * A stable share of nodes per release: a node is in the first `percent` of a rollout when
 * SHA-256(node id, version) falls there, so raising the percentage only adds nodes.
 */
export function inRollout(nodeId: string, version: string, percent: number): boolean {
  if (percent >= 100) return true;
  const h = new Bun.CryptoHasher("sha256").update(`${nodeId}\n${version}`).digest();
  return h.readUInt32BE(0) % 100 < percent;
}

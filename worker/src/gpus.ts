// The GPUs a worker reports in `register`: llama.cpp's GPU devices, or else the machine's graphics controllers.
import type { LlamaEngine } from "@gogrid/native";
import type { GpuInfo } from "@gogrid/protocol";

/** llama.cpp's GPU devices as `register` describes them (empty on a CPU build). */
export function engineGpus(engine: LlamaEngine): GpuInfo[] {
  return engine
    .devices()
    .filter((d) => d.type !== "cpu")
    .map((d) => ({
      name: d.description || d.name,
      vendor: d.backend,
      vram_mb: Math.round(d.memoryTotalBytes / 2 ** 20),
      backend: engine.backendName,
    }));
}

/** engineGpus(), or when llama.cpp sees none, the controllers systeminformation lists (backend "cpu"). */
export async function detectGpus(engine: LlamaEngine): Promise<GpuInfo[]> {
  const fromEngine = engineGpus(engine);
  if (fromEngine.length > 0) return fromEngine;
  try {
    // loaded here only: a worker whose GPUs llama.cpp lists never carries systeminformation
    const g = await (await import("systeminformation")).graphics();
    return g.controllers
      .filter((c) => c.model)
      .slice(0, 16)
      .map((c) => ({
        name: c.model.slice(0, 256),
        vendor: (c.vendor || "unknown").slice(0, 64),
        vram_mb: Math.max(0, Math.round(c.vram ?? 0)),
        backend: "cpu" as const,
      }));
  } catch {
    return [];
  }
}

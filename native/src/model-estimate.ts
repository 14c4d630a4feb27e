// What a GGUF model will need in memory, read from its header alone (nothing loaded): weights and KV cache per token.
import { type GgufInfo, metadataNumber, readGgufHeader } from "./gguf/index.ts";

export interface ModelMemoryEstimate {
  /** Bytes of tensor data (the weights llama.cpp will place in RAM or VRAM). */
  sizeBytes: number;
  /** Bytes of f16 K and V cache per token of context, all layers (as LlamaModel.kvBytesPerToken()). */
  kvBytesPerToken: number;
  /** The model's training context length (0 when the header does not say). */
  contextLength: number;
}

/** A number, or for a per-layer array (some models vary heads by layer) its largest element. */
function numberOrMax(info: GgufInfo, key: string): number | undefined {
  const single = metadataNumber(info, key);
  if (single !== undefined) return single;
  const v = info.metadata.get(key);
  if (ArrayBuffer.isView(v) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) {
    const values = Array.from(v as ArrayLike<number>);
    return values.length > 0 ? Math.max(...values) : undefined;
  }
  return undefined;
}

function estimateFromHeader(info: GgufInfo): ModelMemoryEstimate {
  const arch = info.architecture;
  const layers = metadataNumber(info, `${arch}.block_count`) ?? 0;
  const embd = metadataNumber(info, `${arch}.embedding_length`) ?? 0;
  const heads = Math.max(1, numberOrMax(info, `${arch}.attention.head_count`) ?? 1);
  const kvHeads = Math.max(1, numberOrMax(info, `${arch}.attention.head_count_kv`) ?? heads);
  const keyLength = metadataNumber(info, `${arch}.attention.key_length`) ?? embd / heads;
  const valueLength = metadataNumber(info, `${arch}.attention.value_length`) ?? embd / heads;
  return {
    sizeBytes: info.dataSize,
    kvBytesPerToken: 2 * layers * kvHeads * (keyLength + valueLength),
    contextLength: metadataNumber(info, `${arch}.context_length`) ?? 0,
  };
}

/** Reads only the header of the GGUF at `path`; GGUF errors (missing, not a GGUF, corrupt) pass through. */
export async function estimateModelMemory(path: string): Promise<ModelMemoryEstimate> {
  return estimateFromHeader(await readGgufHeader(path));
}

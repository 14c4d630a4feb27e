// Compiles shim.c with Bun's built-in TinyCC and wires it to an opened libllama/libggml pair.
import { cc, FFIType, type Pointer } from "bun:ffi";
import { addressOf, type GgmlLib, type LlamaLib, ptr } from "./ffi.ts";

const { ptr: P, i32, void: V } = FFIType;

export const shimSymbols = {
  gg_init: { args: [P, i32], returns: i32 },
  gg_log_take: { args: [P, i32], returns: i32 },
  gg_log_level: { args: [i32], returns: V },
  gg_sizeof_model_params: { args: [], returns: i32 },
  gg_sizeof_context_params: { args: [], returns: i32 },
  gg_sizeof_batch: { args: [], returns: i32 },
  gg_load_model: { args: [P, i32, i32, i32], returns: P },
  gg_new_context: { args: [P, i32, i32, i32, i32, i32, i32, i32], returns: P },
  gg_batch_new: { args: [i32], returns: P },
  gg_batch_free: { args: [P], returns: V },
  gg_decode: { args: [P, P, i32, P, P, P, P], returns: i32 },
  gg_decode_one: { args: [P, P, i32, i32, i32], returns: i32 },
  gg_sampler_chain: { args: [i32], returns: P },
  gg_threadpool_new: { args: [P, P, i32, i32], returns: P },
  gg_threadpool_free: { args: [P, P], returns: V },
} as const;

export type Shim = ReturnType<typeof compile>["symbols"];

// sizeof() of the structs on x86_64/arm64 for the pinned llama.cpp release, as gcc lays them out.
const EXPECTED_SIZES = { model: 80, context: 160, batch: 56 } as const;

function compile(source: string, includeDirs: string[]) {
  return cc({ source, include: includeDirs, symbols: shimSymbols });
}

export class ShimError extends Error {
  readonly code = "shim_failed";
  override name = "ShimError";
}

/** Compiles the shim and hands it the library's function addresses. */
export function loadShim(source: string, includeDirs: string[], llama: LlamaLib, ggml: GgmlLib): Shim {
  let lib: ReturnType<typeof compile>;
  try {
    lib = compile(source, includeDirs);
  } catch (e) {
    throw new ShimError(
      `Could not compile the llama.cpp shim (${source}) with the headers in ${includeDirs.join(", ")}: ` +
        `${(e as Error).message}. Run \`bun run prepare:headers\` or set GOGRID_LLAMA_INCLUDE_DIR.`,
    );
  }
  const s = lib.symbols;
  const sizes = {
    model: s.gg_sizeof_model_params(),
    context: s.gg_sizeof_context_params(),
    batch: s.gg_sizeof_batch(),
  };
  if (sizes.model !== EXPECTED_SIZES.model || sizes.context !== EXPECTED_SIZES.context || sizes.batch !== EXPECTED_SIZES.batch) {
    throw new ShimError(
      `llama.cpp headers do not match the pinned release: struct sizes ${JSON.stringify(sizes)}, ` +
        `expected ${JSON.stringify(EXPECTED_SIZES)}. Re-run \`bun run prepare:headers\`.`,
    );
  }
  const L = llama.symbols;
  const fns = new BigUint64Array(
    [
      L.llama_model_default_params,
      L.llama_context_default_params,
      L.llama_model_load_from_file,
      L.llama_init_from_model,
      L.llama_decode,
      L.llama_sampler_chain_default_params,
      L.llama_sampler_chain_init,
      L.llama_log_set,
      ggml.symbols.ggml_log_set,
    ].map((f) => BigInt(addressOf(f))),
  );
  if (s.gg_init(ptr(fns), fns.length) !== 0) throw new ShimError("gg_init rejected the function table");
  return s;
}

export type { Pointer };

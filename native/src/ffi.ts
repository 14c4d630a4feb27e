// The dlopen table: every libllama/libggml symbol GoGrid calls directly, in one place.
import { CString, dlopen, FFIType, type Pointer, ptr } from "bun:ffi";

const { ptr: P, i32, u32, u64, f32, bool, void: V, cstring } = FFIType;
/** size_t: 64-bit on every platform we ship (x64, arm64). */
const usize = FFIType.u64;

// Functions we only take the address of (the shim calls them with by-value structs).
const addressOnly = { args: [], returns: V } as const;

export const llamaSymbols = {
  llama_backend_init: { args: [], returns: V },
  llama_print_system_info: { args: [], returns: cstring },
  llama_supports_gpu_offload: { args: [], returns: bool },
  llama_model_default_params: addressOnly,
  llama_context_default_params: addressOnly,
  llama_model_load_from_file: addressOnly,
  llama_init_from_model: addressOnly,
  llama_decode: addressOnly,
  llama_sampler_chain_default_params: addressOnly,
  llama_sampler_chain_init: addressOnly,
  llama_log_set: addressOnly,
  llama_model_free: { args: [P], returns: V },
  llama_free: { args: [P], returns: V },
  llama_model_get_vocab: { args: [P], returns: P },
  llama_model_n_ctx_train: { args: [P], returns: i32 },
  llama_model_n_embd: { args: [P], returns: i32 },
  llama_model_n_layer: { args: [P], returns: i32 },
  llama_model_n_head: { args: [P], returns: i32 },
  llama_model_n_head_kv: { args: [P], returns: i32 },
  llama_model_n_params: { args: [P], returns: u64 },
  llama_model_size: { args: [P], returns: u64 },
  llama_model_desc: { args: [P, P, usize], returns: i32 },
  llama_model_meta_val_str: { args: [P, P, P, usize], returns: i32 },
  llama_model_chat_template: { args: [P, P], returns: P },
  llama_model_has_encoder: { args: [P], returns: bool },
  llama_vocab_n_tokens: { args: [P], returns: i32 },
  llama_vocab_bos: { args: [P], returns: i32 },
  llama_vocab_eos: { args: [P], returns: i32 },
  llama_vocab_is_eog: { args: [P, i32], returns: bool },
  llama_tokenize: { args: [P, P, i32, P, i32, bool, bool], returns: i32 },
  llama_token_to_piece: { args: [P, i32, P, i32, i32, bool], returns: i32 },
  llama_detokenize: { args: [P, P, i32, P, i32, bool, bool], returns: i32 },
  llama_chat_apply_template: { args: [P, P, usize, bool, P, i32], returns: i32 },
  llama_n_ctx: { args: [P], returns: u32 },
  llama_n_ctx_seq: { args: [P], returns: u32 },
  llama_n_batch: { args: [P], returns: u32 },
  llama_get_memory: { args: [P], returns: P },
  llama_memory_clear: { args: [P, bool], returns: V },
  llama_memory_seq_rm: { args: [P, i32, i32, i32], returns: bool },
  llama_memory_seq_cp: { args: [P, i32, i32, i32, i32], returns: V },
  llama_sampler_chain_add: { args: [P, P], returns: V },
  llama_sampler_init_greedy: { args: [], returns: P },
  llama_sampler_init_dist: { args: [u32], returns: P },
  llama_sampler_init_top_k: { args: [i32], returns: P },
  llama_sampler_init_top_p: { args: [f32, usize], returns: P },
  llama_sampler_init_min_p: { args: [f32, usize], returns: P },
  llama_sampler_init_temp: { args: [f32], returns: P },
  llama_sampler_init_penalties: { args: [i32, i32, f32, f32, f32], returns: P },
  llama_sampler_init_logit_bias: { args: [i32, i32, P], returns: P },
  llama_sampler_sample: { args: [P, P, i32], returns: i32 },
  llama_sampler_free: { args: [P], returns: V },
  llama_attach_threadpool: { args: [P, P, P], returns: V },
} as const;

export const ggmlSymbols = {
  ggml_log_set: addressOnly,
  ggml_backend_load_all_from_path: { args: [cstring], returns: V },
  ggml_backend_dev_count: { args: [], returns: usize },
  ggml_backend_dev_get: { args: [usize], returns: P },
  ggml_backend_dev_name: { args: [P], returns: cstring },
  ggml_backend_dev_description: { args: [P], returns: cstring },
  ggml_backend_dev_memory: { args: [P, P, P], returns: V },
  ggml_backend_dev_type: { args: [P], returns: i32 },
  ggml_backend_dev_backend_reg: { args: [P], returns: P },
  ggml_backend_reg_name: { args: [P], returns: cstring },
  ggml_backend_dev_by_type: { args: [i32], returns: P },
  ggml_backend_reg_get_proc_address: { args: [P, cstring], returns: P },
  ggml_threadpool_params_init: addressOnly,
} as const;

export type LlamaLib = ReturnType<typeof openLlama>;
export type GgmlLib = ReturnType<typeof openGgml>;

export function openLlama(path: string) {
  return dlopen(path, llamaSymbols);
}

export function openGgml(path: string) {
  return dlopen(path, ggmlSymbols);
}

/** The address of a function in an opened library (for the shim). */
export function addressOf(fn: unknown): Pointer {
  const address = (fn as { ptr?: Pointer | null }).ptr;
  if (!address) throw new Error("symbol has no address");
  return address;
}

/** A NUL-terminated UTF-8 copy of `s` that stays alive as long as the returned buffer. */
export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

export function readCString(p: Pointer | null): string | null {
  if (!p) return null;
  return new CString(p).toString();
}

export { type Pointer, ptr };

// A loaded GGUF model: metadata, tokenizer, chat template, and the contexts made from it.
import type { LlamaBackend } from "./backend.ts";
import { type ContextOptions, LlamaContext } from "./context.ts";
import {
  DisposedError,
  LlamaError,
  ModelLoadError,
  NoChatTemplateError,
  OutOfMemoryError,
  UnsupportedArchitectureError,
} from "./errors.ts";
import { cstr, type Pointer, ptr, readCString } from "./ffi.ts";
import { readGgufHeader } from "./gguf/reader.ts";

export interface LoadModelOptions {
  /** Layers to offload to the GPU: -1 = all (default on a GPU backend), 0 = none. */
  gpuLayers?: number;
  /** Memory-map the file instead of reading it (default true). */
  mmap?: boolean;
}

export interface ModelInfo {
  path: string;
  name: string | null;
  architecture: string;
  description: string;
  parameters: number;
  sizeBytes: number;
  contextLength: number;
  embeddingLength: number;
  layers: number;
  vocabSize: number;
  chatTemplate: string | null;
}

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TokenizeOptions {
  /** Add BOS/EOS as the model's metadata asks (default true). */
  addSpecial?: boolean;
  /** Parse special tokens written in the text, e.g. "<|im_start|>" (default false). */
  parseSpecial?: boolean;
}

export class LlamaModel {
  readonly info: ModelInfo;
  readonly vocab: Pointer;
  readonly bos: number;
  readonly eos: number;
  private handle: Pointer | null;
  private readonly contexts = new Set<LlamaContext>();
  private readonly pieceBuf = new Uint8Array(256);

  private constructor(
    readonly backend: LlamaBackend,
    handle: Pointer,
    path: string,
  ) {
    this.handle = handle;
    const L = backend.llama;
    this.vocab = L.llama_model_get_vocab(handle) as Pointer;
    this.bos = L.llama_vocab_bos(this.vocab);
    this.eos = L.llama_vocab_eos(this.vocab);
    const buf = new Uint8Array(512);
    const n = L.llama_model_desc(handle, ptr(buf), buf.length);
    this.info = {
      path,
      name: this.meta("general.name"),
      architecture: this.meta("general.architecture") ?? "unknown",
      description: new TextDecoder().decode(buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1)))),
      parameters: Number(L.llama_model_n_params(handle)),
      sizeBytes: Number(L.llama_model_size(handle)),
      contextLength: L.llama_model_n_ctx_train(handle),
      embeddingLength: L.llama_model_n_embd(handle),
      layers: L.llama_model_n_layer(handle),
      vocabSize: L.llama_vocab_n_tokens(this.vocab),
      chatTemplate: readCString(L.llama_model_chat_template(handle, null) as Pointer | null),
    };
  }

  /**
   * Loads a GGUF file. The header is checked first (missing, not a GGUF, truncated or corrupt
   * files get their own errors) so llama.cpp only ever sees files it can parse.
   */
  static async load(backend: LlamaBackend, path: string, options: LoadModelOptions = {}): Promise<LlamaModel> {
    const header = await readGgufHeader(path);
    const gpuLayers = options.gpuLayers ?? (backend.variant.backend === "cpu" ? 0 : -1);
    backend.log.clearRecent();
    const handle = backend.shim.gg_load_model(cstr(path), gpuLayers, options.mmap === false ? 0 : 1, 0) as Pointer | null;
    backend.drainLog();
    if (!handle) {
      const problems = backend.log.problems();
      const said = problems.join("; ");
      if (/unknown model architecture/i.test(said)) throw new UnsupportedArchitectureError(header.architecture ?? "unknown", path);
      if (/bad_alloc|out of memory|failed to allocate|cudaMalloc failed|ErrorOutOfDeviceMemory/i.test(said)) {
        throw new OutOfMemoryError(
          `not enough memory to load ${path} with ${gpuLayers} GPU layers: ${said || "allocation failed"}; try fewer GPU layers or a smaller quantisation`,
        );
      }
      throw new ModelLoadError(`llama.cpp could not load ${path}${said ? `: ${said}` : ""}`);
    }
    return new LlamaModel(backend, handle, path);
  }

  private get live(): Pointer {
    if (!this.handle) throw new DisposedError("the model");
    return this.handle;
  }

  /** A metadata value as a string (llama.cpp's view), or null. */
  meta(key: string): string | null {
    const buf = new Uint8Array(1024);
    const n = this.backend.llama.llama_model_meta_val_str(this.live, cstr(key), ptr(buf), buf.length);
    if (n < 0) return null;
    return new TextDecoder().decode(buf.subarray(0, Math.min(n, buf.length - 1)));
  }

  tokenize(text: string, options: TokenizeOptions = {}): Int32Array {
    this.live;
    const bytes = Buffer.from(text, "utf8");
    const addSpecial = options.addSpecial ?? true;
    const parseSpecial = options.parseSpecial ?? false;
    let out = new Int32Array(bytes.length + 8);
    let n = this.backend.llama.llama_tokenize(
      this.vocab,
      ptr(bytes.length ? bytes : Buffer.alloc(1)),
      bytes.length,
      ptr(out),
      out.length,
      addSpecial,
      parseSpecial,
    );
    if (n < 0) {
      if (n === -2147483648) throw new LlamaError("tokenize_overflow", "the text is too long to tokenize");
      out = new Int32Array(-n);
      n = this.backend.llama.llama_tokenize(this.vocab, ptr(bytes), bytes.length, ptr(out), out.length, addSpecial, parseSpecial);
    }
    return out.slice(0, n);
  }

  /** The bytes of one token as llama.cpp renders it (may be part of a UTF-8 character). */
  tokenBytes(token: number, special = false): Uint8Array {
    const n = this.backend.llama.llama_token_to_piece(this.vocab, token, ptr(this.pieceBuf), this.pieceBuf.length, 0, special);
    if (n >= 0) return this.pieceBuf.slice(0, n);
    const big = new Uint8Array(-n);
    const m = this.backend.llama.llama_token_to_piece(this.vocab, token, ptr(big), big.length, 0, special);
    return big.slice(0, Math.max(0, m));
  }

  /** Same as tokenBytes but into the shared buffer (no allocation): returns the length. */
  tokenBytesInto(token: number, out: Uint8Array): number {
    return this.backend.llama.llama_token_to_piece(this.vocab, token, ptr(out), out.length, 0, false);
  }

  detokenize(tokens: ArrayLike<number>, options: { removeSpecial?: boolean; special?: boolean } = {}): string {
    this.live;
    if (tokens.length === 0) return "";
    const ids = Int32Array.from(tokens);
    let cap = ids.length * 8 + 16;
    for (;;) {
      const out = new Uint8Array(cap);
      const n = this.backend.llama.llama_detokenize(
        this.vocab,
        ptr(ids),
        ids.length,
        ptr(out),
        cap,
        options.removeSpecial ?? true,
        options.special ?? false,
      );
      if (n >= 0) return new TextDecoder().decode(out.subarray(0, n));
      cap = -n + 1;
    }
  }

  isEndOfGeneration(token: number): boolean {
    return this.backend.llama.llama_vocab_is_eog(this.vocab, token);
  }

  /**
   * Formats a conversation with the model's own chat template (llama.cpp's built-in template
   * engine). Throws NoChatTemplateError when the model has none.
   */
  applyChatTemplate(messages: ChatMessage[], options: { addAssistant?: boolean; template?: string } = {}): string {
    this.live;
    const template = options.template ?? this.info.chatTemplate;
    if (!template) throw new NoChatTemplateError(this.info.name ?? this.info.path);
    const keep: Buffer[] = [];
    const table = new BigUint64Array(messages.length * 2);
    messages.forEach((m, i) => {
      const role = cstr(m.role);
      const content = cstr(m.content);
      keep.push(role, content);
      table[i * 2] = BigInt(ptr(role));
      table[i * 2 + 1] = BigInt(ptr(content));
    });
    const tmpl = cstr(template);
    let cap = messages.reduce((s, m) => s + m.role.length + m.content.length, 0) * 2 + 256;
    for (;;) {
      const out = new Uint8Array(cap);
      const n = this.backend.llama.llama_chat_apply_template(
        ptr(tmpl),
        messages.length ? ptr(table) : null,
        messages.length,
        options.addAssistant ?? true,
        ptr(out),
        cap,
      );
      if (n < 0) {
        throw new LlamaError(
          "chat_template_unsupported",
          `the chat template of ${this.info.name ?? this.info.path} is not one llama.cpp's built-in formatter knows`,
        );
      }
      if (n <= cap) return new TextDecoder().decode(out.subarray(0, n));
      cap = n + 1;
    }
  }

  /** Bytes of f16 K and V cache per token of context (all layers). */
  kvBytesPerToken(): number {
    const L = this.backend.llama;
    const h = this.live;
    const heads = Math.max(1, L.llama_model_n_head(h));
    const kvHeads = Math.max(1, L.llama_model_n_head_kv(h));
    return 2 * 2 * this.info.layers * (this.info.embeddingLength / heads) * kvHeads;
  }

  createContext(options: ContextOptions = {}): LlamaContext {
    const ctx = new LlamaContext(this, this.live, options, () => this.contexts.delete(ctx));
    this.contexts.add(ctx);
    return ctx;
  }

  get disposed(): boolean {
    return this.handle === null;
  }

  /** Frees the model (and any context still open on it). Safe to call more than once. */
  dispose(): void {
    if (!this.handle) return;
    for (const ctx of [...this.contexts]) ctx.dispose();
    const h = this.handle;
    this.handle = null;
    this.backend.llama.llama_model_free(h);
    this.backend.drainLog();
  }
}

// Named engine errors: each carries a stable code and a message a person can act on.

export class LlamaError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** No usable llama.cpp library for this platform (or the override points nowhere). */
export class LibraryNotFoundError extends LlamaError {
  constructor(message: string) {
    super("library_not_found", message);
  }
}

export class ModelLoadError extends LlamaError {
  constructor(message: string) {
    super("model_load_failed", message);
  }
}

/** The GGUF names an architecture this llama.cpp release cannot run. */
export class UnsupportedArchitectureError extends LlamaError {
  constructor(
    readonly architecture: string,
    path: string,
  ) {
    super("unsupported_architecture", `${path}: model architecture "${architecture}" is not supported by the bundled llama.cpp release`);
  }
}

export class OutOfMemoryError extends LlamaError {
  constructor(message: string) {
    super("out_of_memory", message);
  }
}

export class ContextCreateError extends LlamaError {
  constructor(message: string) {
    super("context_failed", message);
  }
}

/** The prompt does not fit the sequence's share of the context. */
export class PromptTooLongError extends LlamaError {
  constructor(
    readonly promptTokens: number,
    readonly contextTokens: number,
  ) {
    super(
      "prompt_too_long",
      `the prompt is ${promptTokens} tokens but the context holds ${contextTokens} per sequence ` +
        "(leave room for at least one generated token): shorten the prompt or raise the context size",
    );
  }
}

export class NoChatTemplateError extends LlamaError {
  constructor(model: string) {
    super(
      "no_chat_template",
      `${model} has no chat template in its metadata (tokenizer.chat_template): send a plain completion prompt instead`,
    );
  }
}

export class DecodeError extends LlamaError {
  constructor(status: number) {
    super(
      status === 1 ? "context_full" : "decode_failed",
      status === 1 ? "llama_decode found no free slot in the KV cache (the context is full)" : `llama_decode failed with status ${status}`,
    );
  }
}

export class InvalidOptionError extends LlamaError {
  constructor(option: string, value: unknown, expected: string) {
    super("invalid_option", `invalid ${option}: ${JSON.stringify(value)} (expected ${expected})`);
  }
}

export class DisposedError extends LlamaError {
  constructor(what: string) {
    super("disposed", `${what} was disposed and can no longer be used`);
  }
}

export class NoFreeSequenceError extends LlamaError {
  constructor(n: number) {
    super(
      "no_free_sequence",
      `all ${n} sequences of this context are busy: wait for one to finish or create the context with more sequences`,
    );
  }
}

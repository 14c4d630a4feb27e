// Size limits of the wire protocol: one frame cap, plus per-field caps that the schemas enforce.

/**
 * Largest frame either side accepts, in UTF-8 bytes (4 MiB). Use it as the WebSocket
 * `maxPayloadLength` on both ends. Sized for the largest message, a `job_assignment`: a prompt of
 * up to MAX_TEXT_CHARS (1 Mi UTF-16 units, roughly 250k tokens, beyond any context a desktop GPU
 * runs) is at most 3 MiB of UTF-8, which leaves room for JSON escaping and the other fields.
 * Other messages are far smaller; streamed output goes in `job_chunk` frames of MAX_CHUNK_CHARS.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Per-field caps. String lengths are in UTF-16 code units (JavaScript `length`). */
export const LIMITS = {
  /** A prompt, one chat message's content, or a whole job result text. */
  MAX_TEXT_CHARS: 1024 * 1024,
  /** One streamed `job_chunk` text. */
  MAX_CHUNK_CHARS: 64 * 1024,
  /** Human-readable reasons, error messages and details. */
  MAX_REASON_CHARS: 1024,
  /** Chat messages in one `job_assignment`. */
  MAX_CHAT_MESSAGES: 512,
  /** Stop sequences per job, and the length of each. */
  MAX_STOP_SEQUENCES: 16,
  MAX_STOP_CHARS: 256,
  /** GPUs reported by one worker. */
  MAX_GPUS: 16,
  /** Cached model ids reported by one worker. */
  MAX_MODELS: 256,
  /** Tokens one job may generate. */
  MAX_TOKENS: 131_072,
  /** Context length, in tokens. */
  MAX_CONTEXT: 1_048_576,
  /** Concurrent jobs on one worker. */
  MAX_CONCURRENT_JOBS: 256,
  /** A certificate chain in PEM. */
  MAX_PEM_CHARS: 32 * 1024,
  /** A URL (model download, update manifest). */
  MAX_URL_CHARS: 2048,
  /** Job timeout: one day. */
  MAX_TIMEOUT_SECS: 86_400,
  /** Pause duration: one week. */
  MAX_PAUSE_SECS: 604_800,
  /** A model file: 1 TiB. */
  MAX_MODEL_BYTES: 2 ** 40,
} as const;

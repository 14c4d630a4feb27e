// Model cache and downloader: the worker's public API for fetching verified GGUF models from the registry.
export { type CachedModel, type CacheOpenReport, ModelCache, type ModelCacheOptions, normalizeSha256 } from "./cache.ts";
export { type DownloadModelOptions, downloadModel, downloadWithRetry, type RetryOptions } from "./download.ts";
export {
  CacheFullError,
  type DownloadErrorCode,
  InvalidModelRefError,
  ModelChecksumError,
  ModelDownloadError,
  ModelError,
  type ModelErrorCode,
  ModelTooLargeError,
} from "./errors.ts";
export { type ProgressFn, progressReporter } from "./progress.ts";
export type { FetchLike } from "./transfer.ts";

// @gogrid/native: llama.cpp over bun:ffi behind one engine interface.
export { acceleratorNames, type BackendOptions, type DeviceInfo, LlamaBackend } from "./backend.ts";
export { isCompiledBinary } from "./compiled.ts";
export { type ContextOptions, type ContextStats, type GenerateOptions, LlamaContext, type StepInfo } from "./context.ts";
export { type EngineOptions, LlamaEngine } from "./engine.ts";
export * from "./errors.ts";
export { type FinishReason, Generation, type GenerationResult, type StopDetail } from "./generation.ts";
export {
  type BackendKind,
  type EmbeddedAsset,
  findLibraryVariants,
  type LibraryVariant,
  LLAMA_PACKAGE_VERSION,
  platformVariants,
  registerEmbeddedLibraries,
} from "./library.ts";
export type { LogLevel, LogSink } from "./log.ts";
export { type ChatMessage, LlamaModel, type LoadModelOptions, type ModelInfo } from "./model.ts";
export { estimateModelMemory, type ModelMemoryEstimate } from "./model-estimate.ts";
export {
  type BackendChoice,
  chooseVariant,
  PROBE_COMMAND,
  type ProbeResult,
  probeInChild,
  runProbeChild,
} from "./probe.ts";
export type { SamplingOptions } from "./sampling.ts";

// Pure-TypeScript GGUF reader and writer (no FFI): header validation and random-weight llama models.
export * from "./encoder.ts";
export * from "./errors.ts";
export * from "./format.ts";
export * from "./reader.ts";
export * from "./sniff.ts";
export * from "./vocab.ts";
export * from "./weights.ts";
export * from "./writer.ts";

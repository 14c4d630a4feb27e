// Names what a non-GGUF file looks like from its first bytes, with a hint a person can act on.

export interface SniffResult {
  /** e.g. "an HTML page", "a safetensors file". */
  readonly looksLike: string;
  /** What to do about it. */
  readonly hint: string;
}

const CONVERT = "Convert it with llama.cpp's convert_hf_to_gguf.py, or download a .gguf build of the model.";

function ascii(bytes: Uint8Array, n: number): string {
  let s = "";
  for (let i = 0; i < Math.min(n, bytes.length); i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.length <= bytes.length && prefix.every((b, i) => bytes[i] === b);
}

function isMostlyText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  let printable = 0;
  for (const b of bytes) {
    if (b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f) || b >= 0x80) printable++;
    if (b === 0) return false;
  }
  return printable / bytes.length > 0.95;
}

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  return headerLen > 1n && headerLen < 1n << 32n && bytes[8] === 0x7b; // '{'
}

/** Hex dump of the first bytes, e.g. "3c 21 44 4f". */
export function hexHead(bytes: Uint8Array, n = 8): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Guess what the file is from its first bytes (pass at least 64 when the file has them). */
export function sniffNonGguf(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) {
    return { looksLike: "an empty file (0 bytes)", hint: "The download or copy failed; fetch the model again." };
  }
  const text = ascii(bytes, 64).replace(/^\uFEFF/, "");
  const lower = text.trimStart().toLowerCase();
  if (lower.startsWith("<!doctype html") || lower.startsWith("<html") || lower.startsWith("<head")) {
    return {
      looksLike: "an HTML page",
      hint:
        "A web page was saved instead of the model (an error or login page, or a Hugging Face " +
        "/blob/ link instead of /resolve/); download the .gguf file itself.",
    };
  }
  if (text.startsWith("version https://git-lfs")) {
    return {
      looksLike: "a Git LFS pointer file",
      hint: "Only the LFS pointer was checked out; run `git lfs pull` or download the file directly.",
    };
  }
  if (looksLikeSafetensors(bytes)) return { looksLike: "a safetensors file", hint: CONVERT };
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) {
    return { looksLike: "a zip archive (e.g. a PyTorch .pt/.bin checkpoint)", hint: CONVERT };
  }
  if (bytes[0] === 0x80 && (bytes[1] ?? 0) >= 2 && (bytes[1] ?? 0) <= 5) {
    return { looksLike: "a Python pickle (PyTorch checkpoint)", hint: CONVERT };
  }
  if (startsWith(bytes, [0x1f, 0x8b])) {
    return { looksLike: "a gzip-compressed file", hint: "Decompress it first (gunzip)." };
  }
  if (startsWith(bytes, [0x28, 0xb5, 0x2f, 0xfd])) {
    return { looksLike: "a zstd-compressed file", hint: "Decompress it first (zstd -d)." };
  }
  const magic = ascii(bytes, 4);
  if (magic === "lmgg" || magic === "fmgg" || magic === "tjgg") {
    return {
      looksLike: "a pre-GGUF GGML/GGJT model",
      hint: "llama.cpp no longer loads that format; download or convert a GGUF version.",
    };
  }
  if (lower.startsWith("{") || lower.startsWith("[")) {
    return { looksLike: "a JSON file", hint: "Use the .gguf file itself, not a config or index file." };
  }
  if (isMostlyText(bytes.subarray(0, 512))) {
    return { looksLike: "a text file", hint: "Use a .gguf model file." };
  }
  return { looksLike: "an unknown binary file", hint: "Use a .gguf model file." };
}

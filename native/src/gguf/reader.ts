// Reads and validates a GGUF file's header, metadata and tensor infos without loading tensor data.
//
// The file is read in growing prefixes (never more than the header needs, never more than
// MAX_HEADER_BYTES), and every length and count is checked against the bytes that remain before
// anything is allocated for it. On any input it throws only GgufError subclasses.
import { stat } from "node:fs/promises";
import { Cursor, decoder, MAX_ENTRIES, MAX_HEADER_BYTES, NeedMore } from "./cursor.ts";
import {
  GgufCorruptError,
  GgufError,
  GgufNotAGgufError,
  GgufNotFoundError,
  GgufTruncatedError,
  GgufUnreadableError,
  GgufUnsupportedVersionError,
} from "./errors.ts";
import {
  alignUp,
  elementCount,
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC_BYTES,
  GGUF_SUPPORTED_VERSIONS,
  GGUF_VALUE_SIZE,
  type GgmlType,
  GgufValueType,
  tensorByteSize,
  tensorShapeProblem,
} from "./format.ts";
import { hexHead, sniffNonGguf } from "./sniff.ts";

export { MAX_ENTRIES, MAX_HEADER_BYTES, MAX_STRING_BYTES } from "./cursor.ts";

const INITIAL_READ = 512 * 1024;

/** Metadata array: numeric arrays come back as typed arrays (host is little-endian). */
export type GgufArray =
  | string[]
  | boolean[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** Metadata value: 64-bit integers are bigints, other numbers are numbers. */
export type GgufValue = string | number | bigint | boolean | GgufArray;

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: ne0 (the contiguous dimension) first. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** ggml type name, e.g. "q8_0". */
  readonly typeName: string;
  /** Offset of the data relative to `dataOffset`. */
  readonly offset: number;
  readonly byteSize: number;
  readonly elements: number;
}

export interface GgufInfo {
  readonly path: string;
  readonly version: number;
  /** `general.architecture`, e.g. "llama". */
  readonly architecture: string;
  readonly alignment: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  /** Absolute file offset where tensor data starts. */
  readonly dataOffset: number;
  /** Bytes from `dataOffset` to the end of the last tensor. */
  readonly dataSize: number;
  readonly fileSize: number;
}

function isValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= GgufValueType.UINT8 && t <= GgufValueType.FLOAT64;
}

function readArray(c: Cursor, key: string): GgufArray {
  const at = c.pos;
  const elemType = c.u32();
  if (elemType === GgufValueType.ARRAY) throw c.corrupt(`key "${key}" holds nested arrays`, at);
  if (!isValueType(elemType)) throw c.corrupt(`key "${key}" has unknown array element type ${elemType}`, at);
  const count = c.count(MAX_HEADER_BYTES, `array length of "${key}"`);
  if (elemType === GgufValueType.STRING) {
    c.need(count * 8); // every string has at least its 8-byte length
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = c.string(`string ${i} of "${key}"`);
    return out;
  }
  if (elemType === GgufValueType.BOOL) return Array.from(c.take(count), (b) => b !== 0);
  const bytes = c.take(count * (GGUF_VALUE_SIZE[elemType] ?? 1)).slice(); // own, aligned copy
  const buf = bytes.buffer;
  switch (elemType) {
    case GgufValueType.UINT8:
      return bytes;
    case GgufValueType.INT8:
      return new Int8Array(buf);
    case GgufValueType.UINT16:
      return new Uint16Array(buf);
    case GgufValueType.INT16:
      return new Int16Array(buf);
    case GgufValueType.UINT32:
      return new Uint32Array(buf);
    case GgufValueType.INT32:
      return new Int32Array(buf);
    case GgufValueType.FLOAT32:
      return new Float32Array(buf);
    case GgufValueType.UINT64:
      return new BigUint64Array(buf);
    case GgufValueType.INT64:
      return new BigInt64Array(buf);
    default:
      return new Float64Array(buf);
  }
}

function readValue(c: Cursor, type: number, key: string, at: number): GgufValue {
  if (type === GgufValueType.STRING) return c.string(`value of "${key}"`);
  if (type === GgufValueType.ARRAY) return readArray(c, key);
  if (!isValueType(type)) throw c.corrupt(`key "${key}" has unknown value type ${type}`, at);
  return c.scalar(type);
}

function checkMagicAndVersion(c: Cursor): number {
  const head = c.buf.subarray(0, Math.min(c.buf.length, 4));
  const isPrefix = head.every((b, i) => b === GGUF_MAGIC_BYTES[i]);
  if (!isPrefix || (c.fileSize === 0 && head.length === 0)) {
    const sniffed = sniffNonGguf(c.buf.subarray(0, 512));
    throw new GgufNotAGgufError(c.path, sniffed.looksLike, sniffed.hint, hexHead(c.buf));
  }
  c.take(4);
  const at = c.pos;
  const version = c.u32();
  if (GGUF_SUPPORTED_VERSIONS.includes(version)) return version;
  let detail: string;
  if (version === 0x02000000 || version === 0x03000000) {
    detail = "this is a big-endian GGUF file, which little-endian machines cannot load; get the little-endian build";
  } else if (version === 1) {
    detail = "GGUF v1 is no longer loaded by llama.cpp; re-convert the model with a current llama.cpp";
  } else if (version > 3 && version < 100) {
    detail = "the file is newer than this reader (versions 2-3); update GoGrid";
  } else {
    detail = `expected version 2 or 3 at byte ${at}; the header is damaged`;
  }
  throw new GgufUnsupportedVersionError(c.path, version, detail);
}

interface Metadata {
  values: Map<string, GgufValue>;
  types: Map<string, number>;
}

function readMetadata(c: Cursor, nKv: number): Metadata {
  c.section = "metadata";
  const values = new Map<string, GgufValue>();
  const types = new Map<string, number>();
  for (let i = 0; i < nKv; i++) {
    const keyAt = c.pos;
    const key = c.string(`key ${i}`);
    if (values.has(key)) throw c.corrupt(`duplicate metadata key "${key}"`, keyAt);
    const typeAt = c.pos;
    const type = c.u32();
    values.set(key, readValue(c, type, key, typeAt));
    types.set(key, type);
  }
  return { values, types };
}

function readAlignment(c: Cursor, { values, types }: Metadata): number {
  const a = values.get("general.alignment");
  if (a === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (types.get("general.alignment") !== GgufValueType.UINT32) {
    throw c.corrupt("general.alignment is not a uint32 (llama.cpp would abort)", null);
  }
  if (typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
    throw c.corrupt(`general.alignment ${String(a)} is not a power of two`, null);
  }
  return a;
}

interface RawTensor {
  name: string;
  dims: number[];
  type: number;
  offset: number;
  at: number;
}

function readTensorInfos(c: Cursor, nTensors: number): RawTensor[] {
  c.section = "tensor infos";
  c.need(nTensors * 24); // name length, n_dims, type and offset at the least
  const names = new Set<string>();
  const out: RawTensor[] = [];
  for (let i = 0; i < nTensors; i++) {
    const at = c.pos;
    const nameLen = c.count(GGML_MAX_NAME - 1, `length of tensor ${i}'s name`);
    const name = decoder.decode(c.take(nameLen));
    if (names.has(name)) throw c.corrupt(`duplicate tensor name "${name}"`, at);
    names.add(name);
    const nDimsAt = c.pos;
    const nDims = c.u32();
    if (nDims > GGML_MAX_DIMS) throw c.corrupt(`tensor "${name}" has ${nDims} dimensions`, nDimsAt);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.count(Number.MAX_SAFE_INTEGER, `dimension ${d} of "${name}"`));
    const type = c.u32();
    const offset = c.count(Number.MAX_SAFE_INTEGER, `data offset of "${name}"`);
    out.push({ name, dims, type, offset, at });
  }
  return out;
}

function checkTensors(c: Cursor, raw: RawTensor[], alignment: number): GgufTensorInfo[] {
  const tensors = raw.map((r): GgufTensorInfo => {
    const problem = tensorShapeProblem(r.type, r.dims.length === 0 ? [1] : r.dims);
    if (problem) throw c.corrupt(`tensor "${r.name}": ${problem}`, r.at);
    if (r.offset % alignment !== 0) {
      throw c.corrupt(`tensor "${r.name}" data offset ${r.offset} is not a multiple of ${alignment}`, r.at);
    }
    const dims = r.dims.length === 0 ? [1] : r.dims;
    const type = r.type as GgmlType;
    const info = GGML_TYPES.get(type);
    const byteSize = tensorByteSize(type, dims);
    return {
      name: r.name,
      dims: r.dims,
      type,
      typeName: info?.name ?? "",
      offset: r.offset,
      byteSize,
      elements: elementCount(dims),
    };
  });
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  let end = 0;
  let prev = "";
  for (const t of byOffset) {
    if (t.offset < end) throw c.corrupt(`tensor "${t.name}" overlaps tensor "${prev}"`, null);
    end = t.offset + t.byteSize;
    prev = t.name;
  }
  return tensors;
}

/** Parse `buf`, a prefix of a `fileSize`-byte file; throws NeedMore when the prefix is too short. */
function parse(buf: Uint8Array, fileSize: number, path: string): GgufInfo {
  const c = new Cursor(buf, fileSize, path);
  try {
    const version = checkMagicAndVersion(c);
    const nTensors = c.count(MAX_ENTRIES, "tensor count");
    const nKv = c.count(MAX_ENTRIES, "metadata key count");
    const meta = readMetadata(c, nKv);
    const metadata = meta.values;
    const arch = metadata.get("general.architecture");
    if (typeof arch !== "string" || arch === "") {
      throw c.corrupt("general.architecture is missing or not a string", null);
    }
    const alignment = readAlignment(c, meta);
    const tensors = checkTensors(c, readTensorInfos(c, nTensors), alignment);
    c.section = "tensor data";
    const dataOffset = alignUp(c.pos, alignment);
    const dataSize = tensors.reduce((m, t) => Math.max(m, t.offset + t.byteSize), 0);
    if (tensors.length > 0 && dataOffset + dataSize > fileSize) {
      throw new GgufTruncatedError(path, "tensor data", dataOffset + dataSize, fileSize);
    }
    return { path, version, architecture: arch, alignment, metadata, tensors, dataOffset, dataSize, fileSize };
  } catch (e) {
    if (e instanceof GgufError || e instanceof NeedMore) throw e;
    // Safety net: a reader bug must still surface as a GgufError (tests assert it never fires).
    const detail = `unexpected reader failure (${e instanceof Error ? e.message : String(e)})`;
    throw new GgufCorruptError(path, c.section, detail, c.pos, { cause: e });
  }
}

/** Parse a complete GGUF file held in memory. */
export function parseGgufBuffer(bytes: Uint8Array, path = "<buffer>"): GgufInfo {
  return parse(bytes, bytes.length, path);
}

async function fileSizeOf(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new GgufNotFoundError(path, "this is a directory, not a model file");
    if (!s.isFile()) throw new GgufNotFoundError(path, "this is not a regular file");
    return s.size;
  } catch (e) {
    if (e instanceof GgufError) throw e;
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new GgufNotFoundError(path);
    throw new GgufUnreadableError(path, e);
  }
}

async function extend(path: string, have: Uint8Array, end: number): Promise<Uint8Array> {
  let chunk: Uint8Array;
  try {
    chunk = new Uint8Array(await Bun.file(path).slice(have.length, end).arrayBuffer());
  } catch (e) {
    throw new GgufUnreadableError(path, e);
  }
  if (have.length + chunk.length < end) {
    throw new GgufTruncatedError(path, "header", end, have.length + chunk.length); // shrank while reading
  }
  const out = new Uint8Array(end);
  out.set(have, 0);
  out.set(chunk, have.length);
  return out;
}

/** Read and validate the header of the GGUF file at `path`; reads only the bytes it needs. */
export async function readGgufHeader(path: string): Promise<GgufInfo> {
  const fileSize = await fileSizeOf(path);
  let buf = await extend(path, new Uint8Array(0), Math.min(fileSize, INITIAL_READ));
  for (;;) {
    try {
      return parse(buf, fileSize, path);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      const want = Math.min(fileSize, MAX_HEADER_BYTES, Math.max(e.end, buf.length * 2));
      buf = await extend(path, buf, want);
    }
  }
}

/** A metadata number (bigints converted when exact); undefined when absent or not a number. */
export function metadataNumber(info: GgufInfo, key: string): number | undefined {
  const v = info.metadata.get(key);
  if (typeof v === "number") return v;
  if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v);
  }
  return undefined;
}

/** A metadata string; undefined when absent or not a string. */
export function metadataString(info: GgufInfo, key: string): string | undefined {
  const v = info.metadata.get(key);
  return typeof v === "string" ? v : undefined;
}

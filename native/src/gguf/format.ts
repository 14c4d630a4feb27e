// GGUF v3 constants: magic, value types, ggml tensor types with block sizes, and tensor byte sizes.
//
// The ggml type table was checked against the prebuilt libraries (ggml_blck_size/ggml_type_size
// of @node-llama-cpp 3.21.1). Ids that llama.cpp removed (4, 5, 31-33, 36-38) are unknown here.

/** "GGUF" as the first four bytes of the file. */
export const GGUF_MAGIC_BYTES: readonly number[] = [0x47, 0x47, 0x55, 0x46];
/** The version this project writes. */
export const GGUF_VERSION = 3;
/** Versions the reader accepts (v2 and v3 share the layout; v1 used 32-bit counts). */
export const GGUF_SUPPORTED_VERSIONS: readonly number[] = [2, 3];
/** Data-section alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** llama.cpp refuses tensors of more dimensions (GGML_MAX_DIMS). */
export const GGML_MAX_DIMS = 4;
/** llama.cpp refuses tensor names of this many bytes or more (GGML_MAX_NAME). */
export const GGML_MAX_NAME = 64;

/** Type tag of a metadata value. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Byte size of the fixed-size value types (strings and arrays are variable). */
export const GGUF_VALUE_SIZE: Readonly<Partial<Record<GgufValueType, number>>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** ggml tensor element types (ids as stored in GGUF tensor infos). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

export interface GgmlTypeInfo {
  /** ggml's lower-case name, e.g. "q8_0". */
  readonly name: string;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

function t(name: string, blockSize: number, typeSize: number): GgmlTypeInfo {
  return { name, blockSize, typeSize };
}

/** Block size and bytes per block of every ggml type the libraries know. */
export const GGML_TYPES: ReadonlyMap<GgmlType, GgmlTypeInfo> = new Map<GgmlType, GgmlTypeInfo>([
  [GgmlType.F32, t("f32", 1, 4)],
  [GgmlType.F16, t("f16", 1, 2)],
  [GgmlType.Q4_0, t("q4_0", 32, 18)],
  [GgmlType.Q4_1, t("q4_1", 32, 20)],
  [GgmlType.Q5_0, t("q5_0", 32, 22)],
  [GgmlType.Q5_1, t("q5_1", 32, 24)],
  [GgmlType.Q8_0, t("q8_0", 32, 34)],
  [GgmlType.Q8_1, t("q8_1", 32, 36)],
  [GgmlType.Q2_K, t("q2_K", 256, 84)],
  [GgmlType.Q3_K, t("q3_K", 256, 110)],
  [GgmlType.Q4_K, t("q4_K", 256, 144)],
  [GgmlType.Q5_K, t("q5_K", 256, 176)],
  [GgmlType.Q6_K, t("q6_K", 256, 210)],
  [GgmlType.Q8_K, t("q8_K", 256, 292)],
  [GgmlType.IQ2_XXS, t("iq2_xxs", 256, 66)],
  [GgmlType.IQ2_XS, t("iq2_xs", 256, 74)],
  [GgmlType.IQ3_XXS, t("iq3_xxs", 256, 98)],
  [GgmlType.IQ1_S, t("iq1_s", 256, 50)],
  [GgmlType.IQ4_NL, t("iq4_nl", 32, 18)],
  [GgmlType.IQ3_S, t("iq3_s", 256, 110)],
  [GgmlType.IQ2_S, t("iq2_s", 256, 82)],
  [GgmlType.IQ4_XS, t("iq4_xs", 256, 136)],
  [GgmlType.I8, t("i8", 1, 1)],
  [GgmlType.I16, t("i16", 1, 2)],
  [GgmlType.I32, t("i32", 1, 4)],
  [GgmlType.I64, t("i64", 1, 8)],
  [GgmlType.F64, t("f64", 1, 8)],
  [GgmlType.IQ1_M, t("iq1_m", 256, 56)],
  [GgmlType.BF16, t("bf16", 1, 2)],
  [GgmlType.TQ1_0, t("tq1_0", 256, 54)],
  [GgmlType.TQ2_0, t("tq2_0", 256, 66)],
  [GgmlType.MXFP4, t("mxfp4", 32, 17)],
  [GgmlType.NVFP4, t("nvfp4", 64, 36)],
  [GgmlType.Q1_0, t("q1_0", 128, 18)],
  [GgmlType.Q2_0, t("q2_0", 64, 18)],
]);

/** The tensor types the writer produces. */
export type WritableTensorType = "f32" | "f16" | "q8_0" | "q4_0";

export const WRITABLE_TYPES: Readonly<Record<WritableTensorType, GgmlType>> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  q8_0: GgmlType.Q8_0,
  q4_0: GgmlType.Q4_0,
};

/** `general.file_type` (llama_ftype) for a model whose matrices are all of one type. */
export const LLAMA_FILE_TYPE: Readonly<Record<WritableTensorType, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q8_0: 7,
};

const INT64_MAX = (1n << 63n) - 1n;

/** Why a tensor shape has no byte size; `null` when it has one. */
export function tensorShapeProblem(type: GgmlType, dims: readonly number[]): string | null {
  const info = GGML_TYPES.get(type);
  if (!info) return `unknown ggml type id ${type}`;
  if (dims.length === 0 || dims.length > GGML_MAX_DIMS) {
    return `${dims.length} dimensions (1 to ${GGML_MAX_DIMS} allowed)`;
  }
  let elements = 1n;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) return `dimension ${d} is not a valid size`;
    elements *= BigInt(d);
    if (elements > INT64_MAX) return `dimensions [${dims.join(", ")}] overflow 64 bits`;
  }
  const ne0 = dims[0] ?? 0;
  if (ne0 % info.blockSize !== 0) {
    return `first dimension ${ne0} is not a multiple of the ${info.name} block size ${info.blockSize}`;
  }
  const bytes = (elements / BigInt(info.blockSize)) * BigInt(info.typeSize);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    return `dimensions [${dims.join(", ")}] need more than 2^53 bytes`;
  }
  return null;
}

/** Bytes of tensor data for a type and shape (ne0 first). Throws RangeError on invalid shapes. */
export function tensorByteSize(type: GgmlType, dims: readonly number[]): number {
  const problem = tensorShapeProblem(type, dims);
  if (problem) throw new RangeError(problem);
  const info = GGML_TYPES.get(type) as GgmlTypeInfo;
  const elements = dims.reduce((a, d) => a * BigInt(d), 1n);
  return Number((elements / BigInt(info.blockSize)) * BigInt(info.typeSize));
}

/** Number of elements of a shape (as a number; callers check the shape first). */
export function elementCount(dims: readonly number[]): number {
  return Number(dims.reduce((a, d) => a * BigInt(d), 1n));
}

/** Round `n` up to a multiple of `align`. */
export function alignUp(n: number, align: number): number {
  const r = n % align;
  return r === 0 ? n : n + (align - r);
}

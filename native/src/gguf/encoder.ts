// Encodes a GGUF v3 header (magic, metadata, tensor infos) into bytes; tensor data is streamed apart.
import { GGUF_MAGIC_BYTES, GGUF_VERSION, type GgmlType, GgufValueType } from "./format.ts";

/** One metadata entry to write; the tag fixes the GGUF value type of JS numbers. */
export type GgufKv =
  | { readonly key: string; readonly type: "string"; readonly value: string }
  | { readonly key: string; readonly type: "u32" | "i32" | "f32" | "u64"; readonly value: number }
  | { readonly key: string; readonly type: "bool"; readonly value: boolean }
  | { readonly key: string; readonly type: "string[]"; readonly value: readonly string[] }
  | { readonly key: string; readonly type: "f32[]"; readonly value: Float32Array }
  | { readonly key: string; readonly type: "i32[]"; readonly value: Int32Array };

/** Constructors for metadata entries. */
export const kv = {
  string: (key: string, value: string): GgufKv => ({ key, type: "string", value }),
  u32: (key: string, value: number): GgufKv => ({ key, type: "u32", value }),
  i32: (key: string, value: number): GgufKv => ({ key, type: "i32", value }),
  f32: (key: string, value: number): GgufKv => ({ key, type: "f32", value }),
  u64: (key: string, value: number): GgufKv => ({ key, type: "u64", value }),
  bool: (key: string, value: boolean): GgufKv => ({ key, type: "bool", value }),
  strings: (key: string, value: readonly string[]): GgufKv => ({ key, type: "string[]", value }),
  f32s: (key: string, value: Float32Array): GgufKv => ({ key, type: "f32[]", value }),
  i32s: (key: string, value: Int32Array): GgufKv => ({ key, type: "i32[]", value }),
};

/** A tensor's entry in the header; `offset` is relative to the data section. */
export interface GgufTensorHeader {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: GgmlType;
  readonly offset: number;
}

const encoder = new TextEncoder();

/** Little-endian byte builder that grows as needed. */
class ByteBuilder {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, at + n));
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length += n;
    return at;
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length); // may replace this.buf
    this.buf.set(b, at);
  }
  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  u64(v: number): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  string(s: string): void {
    const b = encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function encodeKv(b: ByteBuilder, e: GgufKv): void {
  b.string(e.key);
  switch (e.type) {
    case "string":
      b.u32(GgufValueType.STRING);
      b.string(e.value);
      return;
    case "u32":
      b.u32(GgufValueType.UINT32);
      b.u32(e.value);
      return;
    case "i32":
      b.u32(GgufValueType.INT32);
      b.i32(e.value);
      return;
    case "f32":
      b.u32(GgufValueType.FLOAT32);
      b.f32(e.value);
      return;
    case "u64":
      b.u32(GgufValueType.UINT64);
      b.u64(e.value);
      return;
    case "bool":
      b.u32(GgufValueType.BOOL);
      b.u8(e.value ? 1 : 0);
      return;
    case "string[]":
      b.u32(GgufValueType.ARRAY);
      b.u32(GgufValueType.STRING);
      b.u64(e.value.length);
      for (const s of e.value) b.string(s);
      return;
    case "f32[]":
      b.u32(GgufValueType.ARRAY);
      b.u32(GgufValueType.FLOAT32);
      b.u64(e.value.length);
      for (const v of e.value) b.f32(v);
      return;
    case "i32[]":
      b.u32(GgufValueType.ARRAY);
      b.u32(GgufValueType.INT32);
      b.u64(e.value.length);
      for (const v of e.value) b.i32(v);
      return;
  }
}

/** Header bytes up to (not including) the padding before the data section. */
export function encodeGgufHeader(metadata: readonly GgufKv[], tensors: readonly GgufTensorHeader[]): Uint8Array {
  const b = new ByteBuilder();
  b.bytes(Uint8Array.from(GGUF_MAGIC_BYTES));
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(metadata.length);
  for (const e of metadata) encodeKv(b, e);
  for (const t of tensors) {
    b.string(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type);
    b.u64(t.offset);
  }
  return b.result();
}

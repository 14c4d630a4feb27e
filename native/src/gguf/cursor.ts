// Bounds-checked little-endian reader over a prefix of a GGUF file, with the reader's size limits.
//
// Every read first checks that its bytes exist: past the end of the file is a GgufTruncatedError,
// past MAX_HEADER_BYTES a GgufCorruptError, past the prefix read so far a NeedMore signal.
import { GgufCorruptError, type GgufSection, GgufTruncatedError } from "./errors.ts";
import { GGUF_VALUE_SIZE, GgufValueType } from "./format.ts";

/** The header, metadata and tensor infos together may not exceed this. */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** No single metadata string may exceed this. */
export const MAX_STRING_BYTES = 64 * 1024 * 1024;
/** Upper bound on the tensor count and the metadata key count. */
export const MAX_ENTRIES = 1_000_000;

export const decoder = new TextDecoder("utf-8");

/** Thrown inside the parser when the prefix read so far ends before `end`. */
export class NeedMore {
  constructor(readonly end: number) {}
}

export class Cursor {
  pos = 0;
  section: GgufSection = "header";
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    readonly fileSize: number,
    readonly path: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A corrupt-file error at byte `at` (null: no single byte to blame). */
  corrupt(detail: string, at: number | null = this.pos): GgufCorruptError {
    return new GgufCorruptError(this.path, this.section, detail, at ?? undefined);
  }

  /** Ensure `n` more bytes are readable, or say why not. */
  need(n: number): void {
    const end = this.pos + n;
    if (end <= this.buf.length) return;
    if (end > this.fileSize) throw new GgufTruncatedError(this.path, this.section, end, this.fileSize);
    if (end > MAX_HEADER_BYTES) {
      throw this.corrupt(`the header would extend past ${MAX_HEADER_BYTES} bytes (to byte ${end})`);
    }
    throw new NeedMore(end);
  }

  take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 that must be at most `max` (checked before it is used as a number). */
  count(max: number, what: string): number {
    const at = this.pos;
    const v = this.u64();
    if (v > BigInt(max)) throw this.corrupt(`${what} ${v} is absurd (at most ${max} allowed)`, at);
    return Number(v);
  }

  string(what: string): string {
    const len = this.count(MAX_STRING_BYTES, `${what} length`);
    return decoder.decode(this.take(len));
  }

  scalar(type: GgufValueType): number | bigint | boolean {
    const size = GGUF_VALUE_SIZE[type] ?? 0;
    this.need(size);
    const v = this.view;
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case GgufValueType.UINT8:
        return v.getUint8(p);
      case GgufValueType.INT8:
        return v.getInt8(p);
      case GgufValueType.UINT16:
        return v.getUint16(p, true);
      case GgufValueType.INT16:
        return v.getInt16(p, true);
      case GgufValueType.UINT32:
        return v.getUint32(p, true);
      case GgufValueType.INT32:
        return v.getInt32(p, true);
      case GgufValueType.FLOAT32:
        return v.getFloat32(p, true);
      case GgufValueType.BOOL:
        return v.getUint8(p) !== 0;
      case GgufValueType.UINT64:
        return v.getBigUint64(p, true);
      case GgufValueType.INT64:
        return v.getBigInt64(p, true);
      case GgufValueType.FLOAT64:
        return v.getFloat64(p, true);
      default:
        throw this.corrupt(`value type ${type} is not a scalar`, p);
    }
  }
}

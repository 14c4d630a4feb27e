// Deterministic random tensor data: a seeded PRNG, float-to-half conversion, and valid
// F32/F16/Q8_0/Q4_0 byte patterns that the writer repeats to fill whole tensors.
import { GGML_TYPES, GgmlType } from "./format.ts";

/** sfc32 seeded through splitmix32: fast, deterministic, good enough for weights. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/** IEEE half bits of `x`, rounded to nearest even; overflow saturates to ±65504 (never Inf/NaN). */
export function f32ToF16Bits(x: number): number {
  if (Number.isNaN(x)) return 0;
  f32Buf[0] = x;
  const bits = u32Buf[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  if ((half & 0x7c00) === 0x7c00) return sign | 0x7bff;
  return sign | half;
}

/** The number an IEEE half holds. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Bytes of one repeatable unit (block) of a type. */
export function blockBytes(type: GgmlType): number {
  return GGML_TYPES.get(type)?.typeSize ?? 1;
}

/** A scale jittered to 0.5x-1.5x of `base`, as half bits. */
function jitteredScale(rng: Prng, base: number): number {
  return f32ToF16Bits(base * (0.5 + rng.float()));
}

/**
 * A pattern of about `bytes` bytes (a whole number of blocks, at least one) of valid `type` data
 * whose values have standard deviation about `sigma`. Supports F32, F16, Q8_0 and Q4_0.
 */
export function makeWeightPattern(type: GgmlType, bytes: number, sigma: number, rng: Prng): Uint8Array {
  const unit = blockBytes(type);
  const n = Math.max(1, Math.floor(bytes / unit));
  const out = new Uint8Array(n * unit);
  const view = new DataView(out.buffer);
  const amp = sigma * Math.sqrt(3); // uniform [-amp, amp] has this sigma
  switch (type) {
    case GgmlType.F32: {
      const f = new Float32Array(out.buffer);
      for (let i = 0; i < n; i++) f[i] = (rng.float() * 2 - 1) * amp;
      return out;
    }
    case GgmlType.F16: {
      for (let i = 0; i < n; i++) view.setUint16(i * 2, f32ToF16Bits((rng.float() * 2 - 1) * amp), true);
      return out;
    }
    case GgmlType.Q8_0: {
      // d * q with q uniform in [-127, 127] (sigma 73.3 * d)
      for (let blk = 0; blk < n; blk++) {
        const p = blk * 34;
        view.setUint16(p, jitteredScale(rng, sigma / 73.3), true);
        for (let j = 0; j < 32; j += 4) {
          let r = rng.u32();
          for (let k = 0; k < 4; k++, r >>>= 8) out[p + 2 + j + k] = (r & 0xff) === 0x80 ? 0x81 : r & 0xff;
        }
      }
      return out;
    }
    case GgmlType.Q4_0: {
      // d * (nibble - 8) with nibbles uniform in [1, 15]: zero mean, sigma 4.32 * d
      for (let blk = 0; blk < n; blk++) {
        const p = blk * 18;
        view.setUint16(p, jitteredScale(rng, sigma / 4.32), true);
        for (let j = 0; j < 16; j += 2) {
          let r = rng.u32();
          for (let k = 0; k < 2; k++, r >>>= 16) {
            const lo = 1 + (((r & 0xff) * 15) >>> 8);
            const hi = 1 + ((((r >>> 8) & 0xff) * 15) >>> 8);
            out[p + 2 + j + k] = lo | (hi << 4);
          }
        }
      }
      return out;
    }
    default:
      throw new RangeError(`no weight generator for ggml type ${GGML_TYPES.get(type)?.name ?? type}`);
  }
}

/** F32 data of `count` copies of `value` (e.g. norm weights of 1.0). */
export function constantF32(count: number, value: number): Uint8Array {
  return new Uint8Array(new Float32Array(count).fill(value).buffer);
}

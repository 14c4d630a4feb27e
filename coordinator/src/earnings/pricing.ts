// Money as integer micro-units: a job's price from per-1000-token rates, and decimal strings in and out.
import type { PriceRow } from "../db/repository.ts";

/** Micro-units per unit of the currency. */
const MICROS_PER_UNIT = 1_000_000;
/** The currency every amount is in (ISO 4217). */
export const CURRENCY = "USD";

export type AmountErrorCode = "amount_invalid" | "amount_too_precise" | "amount_too_large";

/** A decimal amount that cannot be read as, or written from, whole micro-units. */
export class AmountError extends Error {
  override readonly name = "AmountError";
  constructor(
    readonly code: AmountErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function checkCount(name: string, n: number): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative whole number, got ${n}`);
  return BigInt(n);
}

/**
 * What a job earns, in micro-units: (completion × completionRate + prompt × promptRate) / 1000,
 * rounded DOWN to a whole micro-unit. The sum is taken before the one division (in BigInt, so no
 * float drift and no overflow on the way), so a job loses less than one micro-unit to rounding and
 * the result is the same on every machine. No price → 0. Never negative: negative or fractional
 * token counts or rates are refused (RangeError), as is a result beyond Number.MAX_SAFE_INTEGER.
 */
export function priceMicros(price: PriceRow | null, promptTokens: number, completionTokens: number): number {
  const prompt = checkCount("promptTokens", promptTokens);
  const completion = checkCount("completionTokens", completionTokens);
  if (!price) return 0;
  const total =
    completion * checkCount("completionMicrosPer1k", price.completionMicrosPer1k) +
    prompt * checkCount("promptMicrosPer1k", price.promptMicrosPer1k);
  const micros = total / 1_000n; // BigInt division of non-negative values: floor
  if (micros > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError(`price of ${completionTokens} + ${promptTokens} tokens exceeds ${Number.MAX_SAFE_INTEGER} micro-units`);
  return Number(micros);
}

/**
 * Micro-units → the protocol's Amount: "0", "1.5", "0.000001", "12.345678" (no trailing zeros,
 * no exponent). Refuses negative or fractional micro-units (AmountError amount_invalid).
 */
export function formatAmount(micros: number | bigint): string {
  if (typeof micros === "number" && !Number.isSafeInteger(micros))
    throw new AmountError("amount_invalid", `an amount must be a whole number of micro-units, got ${micros}`);
  const m = BigInt(micros);
  if (m < 0n) throw new AmountError("amount_invalid", `an amount cannot be negative, got ${m} micro-units`);
  const unit = BigInt(MICROS_PER_UNIT);
  const whole = (m / unit).toString();
  const frac = (m % unit).toString().padStart(6, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole;
}

/** The protocol's Amount pattern (protocol/src/messages/session.ts). */
const AMOUNT = /^(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,12}))?$/;

/**
 * A decimal amount like "0.002" → micro-units (2000). Accepts the protocol's Amount form only
 * (no sign, exponent, spaces or leading zeros); digits past the sixth decimal must be zeros.
 */
export function parseAmount(text: string): number {
  const m = AMOUNT.exec(text);
  if (!m)
    throw new AmountError(
      "amount_invalid",
      `invalid amount "${text}": use a plain decimal like 0.002 or 12.5 (no sign, spaces or exponent)`,
    );
  const fraction = m[2] ?? "";
  if (/[^0]/.test(fraction.slice(6)))
    throw new AmountError("amount_too_precise", `invalid amount "${text}": at most 6 decimal places (one micro-unit is 0.000001)`);
  const micros = BigInt(m[1] as string) * BigInt(MICROS_PER_UNIT) + BigInt(fraction.slice(0, 6).padEnd(6, "0"));
  if (micros > BigInt(Number.MAX_SAFE_INTEGER))
    throw new AmountError("amount_too_large", `invalid amount "${text}": at most ${formatAmount(Number.MAX_SAFE_INTEGER)}`);
  return Number(micros);
}

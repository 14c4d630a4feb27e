// Pricing rounds down exactly; amounts format to and parse from the protocol's decimal strings.
import { describe, expect, test } from "bun:test";
import { Amount } from "@gogrid/protocol";
import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import { AmountError, formatAmount, parseAmount, priceMicros } from "./pricing.ts";

const price = (completionMicrosPer1k: number, promptMicrosPer1k = 0) => ({ modelId: "m", completionMicrosPer1k, promptMicrosPer1k });

describe("priceMicros", () => {
  test("per 1000 tokens, rounded down once on the combined sum", () => {
    expect(priceMicros(price(2_000), 0, 1_000)).toBe(2_000);
    expect(priceMicros(price(2_000), 0, 1)).toBe(2);
    expect(priceMicros(price(1_234), 0, 1)).toBe(1); // 1.234 → 1
    expect(priceMicros(price(999), 0, 1)).toBe(0); // 0.999 → 0: never rounded up
    // 0.5 + 0.5 micro-units: summed first, so 1 (rounding each part would give 0).
    expect(priceMicros(price(500, 500), 1, 1)).toBe(1);
    expect(priceMicros(price(1_000_000, 333), 3, 7)).toBe(7_000 + 0); // 7000 + 0.999
    expect(priceMicros(price(1_000_000, 334), 3, 7)).toBe(7_001); // 7000 + 1.002
  });

  test("no price or no tokens: 0", () => {
    expect(priceMicros(null, 100, 100)).toBe(0);
    expect(priceMicros(price(5_000, 5_000), 0, 0)).toBe(0);
  });

  test("exact where floats would drift: huge counts and rates", () => {
    // 2^53 - 1 micro-units per 1k × 1000 tokens: the product exceeds 2^53 on the way.
    expect(priceMicros(price(Number.MAX_SAFE_INTEGER), 0, 1_000)).toBe(Number.MAX_SAFE_INTEGER);
    expect(priceMicros(price(3, 7), 123_456_789, 987_654_321)).toBe(Math.floor((987_654_321 * 3 + 123_456_789 * 7) / 1_000));
    expect(() => priceMicros(price(Number.MAX_SAFE_INTEGER), 0, 1_001)).toThrow(RangeError);
  });

  test("refuses negative or fractional counts and rates", () => {
    expect(() => priceMicros(price(1), -1, 1)).toThrow(/promptTokens/);
    expect(() => priceMicros(price(1), 1, 1.5)).toThrow(/completionTokens/);
    expect(() => priceMicros(price(-1), 1, 1)).toThrow(/completionMicrosPer1k/);
    expect(() => priceMicros(price(1, 0.1), 1, 1)).toThrow(/promptMicrosPer1k/);
    expect(() => priceMicros(null, -1, 0)).toThrow(RangeError);
  });

  test("property: equals the exact BigInt floor, never negative, monotone in tokens", () => {
    const count = fc.integer({ min: 0, max: 10_000_000 });
    const rate = fc.integer({ min: 0, max: 100_000_000 });
    fc.assert(
      fc.property(count, count, rate, rate, (p, c, cr, pr) => {
        const got = priceMicros(price(cr, pr), p, c);
        expect(BigInt(got)).toBe((BigInt(c) * BigInt(cr) + BigInt(p) * BigInt(pr)) / 1_000n);
        expect(got).toBeGreaterThanOrEqual(0);
        expect(priceMicros(price(cr, pr), p, c + 1)).toBeGreaterThanOrEqual(got);
      }),
    );
  });
});

describe("formatAmount / parseAmount", () => {
  test("examples", () => {
    expect(formatAmount(0)).toBe("0");
    expect(formatAmount(1)).toBe("0.000001");
    expect(formatAmount(1_500_000)).toBe("1.5");
    expect(formatAmount(12_345_678)).toBe("12.345678");
    expect(formatAmount(2_000_000)).toBe("2");
    expect(formatAmount(100_000_000_010n)).toBe("100000.00001");
    expect(formatAmount(Number.MAX_SAFE_INTEGER)).toBe("9007199254.740991");

    expect(parseAmount("0.002")).toBe(2_000);
    expect(parseAmount("0")).toBe(0);
    expect(parseAmount("1.5")).toBe(1_500_000);
    expect(parseAmount("12.345678")).toBe(12_345_678);
    expect(parseAmount("0.000001")).toBe(1);
    expect(parseAmount("3.100000000000")).toBe(3_100_000); // zeros past micro precision are fine
  });

  test("bad input is named with a code", () => {
    for (const bad of ["", " 1", "1 ", "-1", "+1", "1e3", "01", "1.", ".5", "1,5", "abc", "NaN", "0x10", "1.0000000000000"]) {
      expect(() => parseAmount(bad)).toThrow(AmountError);
      try {
        parseAmount(bad);
      } catch (e) {
        expect((e as AmountError).code).toBe("amount_invalid");
        expect((e as AmountError).message).toContain(`"${bad}"`);
      }
    }
    expect(() => parseAmount("0.0000001")).toThrow(expect.objectContaining({ code: "amount_too_precise" }));
    expect(() => parseAmount("9007199255")).toThrow(expect.objectContaining({ code: "amount_too_large" }));
    expect(parseAmount("9007199254.740991")).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => formatAmount(-1)).toThrow(AmountError);
    expect(() => formatAmount(0.5)).toThrow(AmountError);
    expect(() => formatAmount(-1n)).toThrow(AmountError);
  });

  test("property: every formatted amount is a valid protocol Amount and parses back", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (micros) => {
        const text = formatAmount(micros);
        expect(Value.Check(Amount, text)).toBe(true);
        expect(parseAmount(text)).toBe(micros);
      }),
    );
  });
});

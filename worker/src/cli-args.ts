// Argument parsers for commander that name the bad value in their error.
import { InvalidArgumentError } from "commander";

export function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? "∞" : max}, got "${value}".`,
      );
    }
    return n;
  };
}

export function numberArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}, got "${value}".`);
    }
    return n;
  };
}

export function choiceArg<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`${name} must be one of ${choices.join(", ")}, got "${value}".`);
    }
    return value as T;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

// Turns a TypeBox validation error into an OpenAI-style [param, message] naming the field, the value and what it takes.
import { Kind, type TSchema } from "@sinclair/typebox";
import type { ValueError } from "@sinclair/typebox/errors";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";

function range(s: TSchema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`<= ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  return parts.length > 0 ? ` ${parts.join(" and ")}` : "";
}

function count(min: number | undefined, max: number | undefined, noun: string): string {
  const plural = (n: number) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  if (min !== undefined && min === max) return `exactly ${plural(min)}`;
  if (min !== undefined && max !== undefined) return `${min} to ${plural(max)}`;
  if (max !== undefined) return `at most ${plural(max)}`;
  if (min !== undefined && min > 0) return `at least ${plural(min)}`;
  return `${noun}s`;
}

/** What a schema accepts, in words: `an integer >= 1 or null`, `one of "user", "assistant"`, … */
export function describeSchema(s: TSchema): string {
  if (Array.isArray(s.anyOf)) {
    const members = s.anyOf as TSchema[];
    const consts = members.filter((m) => m.const !== undefined).map((m) => JSON.stringify(m.const));
    const rest = members.filter((m) => m.const === undefined).map(describeSchema);
    const head = consts.length > 1 ? [`one of ${consts.join(", ")}`] : consts;
    return [...head, ...rest].join(" or ");
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s[Kind]) {
    case "Null":
      return "null";
    case "Boolean":
      return "true or false";
    case "Integer":
      return `an integer${range(s)}`;
    case "Number":
      return `a number${range(s)}`;
    case "String":
      return s.minLength || s.maxLength !== undefined ? `a string of ${count(s.minLength, s.maxLength, "character")}` : "a string";
    case "Array": {
      const items = s.items as TSchema | undefined;
      const noun = items?.[Kind] === "String" ? "string" : items?.[Kind] === "Object" ? "object" : "item";
      return `an array of ${count(s.minItems, s.maxItems, noun)}`;
    }
    case "Object":
      return "an object";
    default:
      return "a valid value";
  }
}

/** Whether `value` has the JSON type `s` is about (so a union's error can be narrowed to that member). */
function sameJsonType(s: TSchema, value: unknown): boolean {
  if (s.const !== undefined) return typeof s.const === typeof value;
  switch (s[Kind]) {
    case "Null":
      return value === null;
    case "Boolean":
      return typeof value === "boolean";
    case "Integer":
    case "Number":
      return typeof value === "number";
    case "String":
      return typeof value === "string";
    case "Array":
      return Array.isArray(value);
    case "Object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    default:
      return false;
  }
}

/** For a union, the error inside the one member of the value's JSON type (the specific problem); else the error itself. */
function narrow(error: ValueError): ValueError {
  const members = error.schema.anyOf as TSchema[] | undefined;
  if (!members) return error;
  const candidates = members.filter((m) => sameJsonType(m, error.value));
  if (candidates.length !== 1) return error;
  const inner = Value.Errors(candidates[0] as TSchema, error.value).First();
  return inner ? narrow({ ...inner, path: `${error.path}${inner.path}` }) : error;
}

const preview = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/**
 * [param, message] for the first error of a request body. `topLevel` lists the body's known
 * arguments, so an unknown one is reported the way OpenAI does.
 */
export function describeRequestError(first: ValueError, topLevel: ReadonlySet<string>): [string | null, string] {
  const e = narrow(first);
  const param = e.path.replace(/^\//, "").replace(/\//g, ".") || null;
  const top = param?.split(".")[0];
  if (top && !topLevel.has(top)) return [param, `unrecognized request argument supplied: ${top}`];
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return [param, `unrecognized argument '${param}'`];
  if (e.type === ValueErrorType.ObjectRequiredProperty) return [param, `'${param}' is a required property (${describeSchema(e.schema)})`];
  return [param, `invalid value for '${param}': ${preview(e.value)}; expected ${describeSchema(e.schema)}`];
}

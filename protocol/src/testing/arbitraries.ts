// fast-check arbitraries derived from the wire schemas, so property tests cover every message type.
import { Kind, type TSchema } from "@sinclair/typebox";
import fc from "fast-check";
import { MESSAGE_SCHEMAS, type MessageOf, type MessageType } from "../registry.ts";
import { checkRules } from "../rules.ts";

/** Longest string / array an arbitrary produces, whatever the schema allows (keeps runs fast). */
const MAX_GENERATED_CHARS = 48;
const MAX_GENERATED_ITEMS = 4;

function stringArbitrary(schema: TSchema): fc.Arbitrary<string> {
  const min: number = schema.minLength ?? 0;
  const max: number = schema.maxLength ?? Number.MAX_SAFE_INTEGER;
  if (typeof schema.pattern === "string") {
    const anchoredEnd = schema.pattern.endsWith("$");
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .map((s) => (anchoredEnd ? s : s.padEnd(min, "A")))
      .filter((s) => s.length >= min && s.length <= max);
  }
  const cap = Math.max(min, Math.min(max, MAX_GENERATED_CHARS));
  return fc
    .oneof(fc.string({ minLength: min, maxLength: cap, unit: "grapheme" }), fc.string({ minLength: min, maxLength: cap, unit: "binary" }))
    .filter((s) => s.length >= min && s.length <= max);
}

function numberArbitrary(schema: TSchema): fc.Arbitrary<number> {
  const min: number = schema.minimum ?? schema.exclusiveMinimum ?? -Number.MAX_VALUE;
  const max: number = schema.maximum ?? schema.exclusiveMaximum ?? Number.MAX_VALUE;
  return fc
    .double({
      min,
      max,
      noNaN: true,
      noDefaultInfinity: true,
      minExcluded: schema.exclusiveMinimum !== undefined,
      maxExcluded: schema.exclusiveMaximum !== undefined,
    })
    .map((x) => (Object.is(x, -0) ? 0 : x));
}

function integerArbitrary(schema: TSchema): fc.Arbitrary<number> {
  const min = BigInt(schema.minimum ?? Number.MIN_SAFE_INTEGER);
  const max = BigInt(schema.maximum ?? Number.MAX_SAFE_INTEGER);
  return fc.bigInt({ min, max }).map(Number);
}

/** Values that satisfy `schema` (the subset of TypeBox the protocol uses). */
export function arbitraryFor(schema: TSchema): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as TSchema[]).map(arbitraryFor));
  if (schema.const !== undefined) return fc.constant(schema.const);
  switch (schema[Kind]) {
    case "Object": {
      const properties = schema.properties as Record<string, TSchema>;
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, property] of Object.entries(properties)) shape[key] = arbitraryFor(property);
      return fc.record(shape, { requiredKeys: (schema.required as string[] | undefined) ?? [] });
    }
    case "Array":
      return fc.array(arbitraryFor(schema.items as TSchema), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? MAX_GENERATED_ITEMS, MAX_GENERATED_ITEMS),
      });
    case "String":
      return stringArbitrary(schema);
    case "Integer":
      return integerArbitrary(schema);
    case "Number":
      return numberArbitrary(schema);
    case "Boolean":
      return fc.boolean();
    case "Null":
      return fc.constant(null);
    default:
      throw new Error(`arbitraryFor: no arbitrary for schema kind ${String(schema[Kind])}`);
  }
}

/** Valid messages of one type: schema-shaped and passing the cross-field rules. */
export function messageArbitrary<T extends MessageType>(type: T): fc.Arbitrary<MessageOf<T>> {
  return arbitraryFor(MESSAGE_SCHEMAS[type])
    .map((value) => value as MessageOf<T>)
    .filter((message) => checkRules(message) === undefined);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Segment = string | number;

function paths(value: Json, prefix: Segment[] = []): Segment[][] {
  const out: Segment[][] = [];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push([...prefix, i], ...paths(v, [...prefix, i]));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...paths(v, [...prefix, k]));
  }
  return out;
}

function edit(root: Json, path: Segment[], change: (parent: Json[] | { [key: string]: Json }, key: Segment) => void): Json {
  const copy = structuredClone(root);
  let parent: Json = copy;
  for (const segment of path.slice(0, -1)) parent = (parent as Record<Segment, Json>)[segment] as Json;
  change(parent as Json[] | { [key: string]: Json }, path[path.length - 1] as Segment);
  return copy;
}

/** A valid message turned into a frame that may or may not still be valid. */
export function mutatedFrameArbitrary(valid: readonly object[]): fc.Arbitrary<string> {
  const base = fc.constantFrom(...valid.map((m) => JSON.parse(JSON.stringify(m)) as Json));
  const deleteKey = fc.tuple(base, fc.nat()).map(([m, n]) => {
    const all = paths(m);
    const path = all[n % all.length] ?? [];
    return JSON.stringify(
      edit(m, path, (parent, key) => {
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key as string];
      }),
    );
  });
  const replaceValue = fc.tuple(base, fc.nat(), fc.jsonValue()).map(([m, n, replacement]) => {
    const all = paths(m);
    const path = all[n % all.length] ?? [];
    return JSON.stringify(
      edit(m, path, (parent, key) => {
        (parent as Record<Segment, Json>)[key] = replacement as Json;
      }),
    );
  });
  const addKey = fc.tuple(base, fc.string(), fc.jsonValue()).map(([m, key, v]) => JSON.stringify({ ...(m as object), [key]: v }));
  const truncate = fc.tuple(base, fc.nat()).map(([m, n]) => {
    const text = JSON.stringify(m);
    return text.slice(0, n % (text.length + 1));
  });
  return fc.oneof(deleteKey, replaceValue, addKey, truncate);
}

// Turns TypeBox's first validation error into one sentence a person can act on.
import { Kind, type TSchema } from "@sinclair/typebox";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";

const PREVIEW_CHARS = 60;

/** Short, bounded rendering of an offending value (never the whole of a 1 MiB string). */
export function preview(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    const head = value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value;
    return value.length > PREVIEW_CHARS ? `${JSON.stringify(head)} (${value.length} characters)` : JSON.stringify(head);
  }
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

function fieldName(path: string): string {
  const last = path.slice(path.lastIndexOf("/") + 1);
  return last.replaceAll("~1", "/").replaceAll("~0", "~");
}

function range(schema: TSchema): string {
  const min = schema.minimum ?? schema.exclusiveMinimum;
  const max = schema.maximum ?? schema.exclusiveMaximum;
  const lo = schema.exclusiveMinimum !== undefined ? `> ${min}` : `>= ${min}`;
  const hi = schema.exclusiveMaximum !== undefined ? `< ${max}` : `<= ${max}`;
  if (min !== undefined && max !== undefined) return ` ${lo} and ${hi}`;
  if (min !== undefined) return ` ${lo}`;
  if (max !== undefined) return ` ${hi}`;
  return "";
}

/** What a schema accepts, in words: `one of "idle", "busy"`, `an integer >= 1 and <= 64`, … */
export function describeSchema(schema: TSchema): string {
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as TSchema[];
    const consts = members.filter((m) => m.const !== undefined).map((m) => JSON.stringify(m.const));
    const others = members.filter((m) => m.const === undefined).map(describeSchema);
    const parts = consts.length > 0 ? [`one of ${consts.join(", ")}`, ...others] : others;
    return parts.join(" or ");
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (typeof schema.description === "string" && schema[Kind] === "String") return schema.description;
  switch (schema[Kind]) {
    case "Null":
      return "null";
    case "Boolean":
      return "true or false";
    case "Integer":
      return `an integer${range(schema)}`;
    case "Number":
      return `a number${range(schema)}`;
    case "String":
      return schema.maxLength !== undefined ? `a string of at most ${schema.maxLength} characters` : "a string";
    case "Array":
      return "an array";
    case "Object":
      return "an object";
    default:
      return "a valid value";
  }
}

/** One sentence for the first error of a failed check; the caller prefixes type and path. */
export function describeValueError(error: ValueError): string {
  const got = preview(error.value);
  const schema = error.schema;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required field "${fieldName(error.path)}" (${describeSchema(schema)})`;
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown field "${fieldName(error.path)}": this protocol version does not define it; remove it`;
    case ValueErrorType.StringMaxLength:
      return `is ${typeof error.value === "string" ? error.value.length : "?"} characters long; the limit is ${schema.maxLength}`;
    case ValueErrorType.StringMinLength:
    case ValueErrorType.StringPattern:
    case ValueErrorType.String:
      return `must be ${describeSchema(schema)} (got ${got})`;
    case ValueErrorType.ArrayMaxItems:
      return `has ${Array.isArray(error.value) ? error.value.length : "?"} items; the limit is ${schema.maxItems}`;
    case ValueErrorType.ArrayMinItems:
      return `needs at least ${schema.minItems} item(s)`;
    case ValueErrorType.Object:
      return `must be an object (got ${got})`;
    case ValueErrorType.Array:
      return `must be an array (got ${got})`;
    default:
      return `must be ${describeSchema(schema)} (got ${got})`;
  }
}

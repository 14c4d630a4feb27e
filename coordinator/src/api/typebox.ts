// TypeBox helpers shared by the schemas of the API document and the dashboard's JSON.
import { Type as T } from "@sinclair/typebox";

/** `s` or null. */
export const Nullable = <S extends Parameters<typeof T.Union>[0][number]>(s: S) => T.Union([s, T.Null()]);

/** One of a closed set of strings (e.g. a status column's values in db/enums.ts). */
export const OneOf = <V extends string>(values: readonly V[]) => T.Union(values.map((v) => T.Literal(v)));

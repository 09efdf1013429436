/**
 * One stack config key, declared once, as a nixpkgs `mkOption` declares an
 * option: its type, default, description and the StackConfig field it fills
 * sit in one record. The parser (schema.ts) applies the default and fills the
 * field from it, the configuration reference (render/docs.ts) prints both,
 * and `option()` has the compiler check the record against StackConfig.
 */
import type { Range } from "../catalog/rules";
import type { StackConfig } from "./schema";

export type Kind = "string" | "number" | "boolean" | "string[]" | "map";

/** The value of a key of each kind once it is checked. */
export interface KindValue {
  string: string;
  number: number;
  boolean: boolean;
  "string[]": string[];
  map: Record<string, unknown>;
}

/** What a value is checked against once it has the right type: a problem message (without the key), or undefined. */
export type Check = (value: string, ctx: CheckContext) => string | undefined;

/** What a check may need besides the value. */
export interface CheckContext {
  /** The root of a test host's file system (ConfigSource.hostRoot). */
  hostRoot?: string;
}

/** Values that end a field path: a record's value lands there whole. */
type Leaf = string | number | boolean | readonly unknown[];

/**
 * Dotted paths of a type's fields, through optional fields and every member
 * of a union: "domain", "ssh.port", "docs.source.branch". A map with
 * arbitrary keys (placement) is a field, not something to walk into.
 */
type FieldPath<T> = T extends Leaf
  ? never
  : T extends object
    ? string extends keyof T
      ? never
      : { [K in keyof T & string]-?: K | `${K}.${FieldPath<NonNullable<T[K]>>}` }[keyof T & string]
    : never;

/** The type of the field at a path, across the union members that have it. */
type FieldType<T, P extends string> = T extends unknown
  ? P extends `${infer Head}.${infer Rest}`
    ? Head extends keyof T
      ? FieldType<NonNullable<T[Head]>, Rest>
      : never
    : P extends keyof T
      ? T[P]
      : never
  : never;

/** A field of StackConfig a key can fill. */
export type ConfigField = FieldPath<StackConfig>;

/** The fields that end a path: what some key, or the cross-key code, must fill. */
export type LeafField = {
  [P in ConfigField]: NonNullable<FieldType<StackConfig, P>> extends Leaf
    ? P
    : string extends keyof NonNullable<FieldType<StackConfig, P>>
      ? P
      : never;
}[ConfigField];

/** The fields a set of records fills. */
export type TargetOf<Keys> = {
  [K in keyof Keys]: Keys[K] extends { target: infer P extends ConfigField } ? P : never;
}[keyof Keys];

export interface KeySpec {
  kind: Kind;
  /**
   * What the key is, for the reference and for every message that asks for
   * it. The default is not written here: it is `default`, `defaultFrom` or
   * `unsetMeans`, and `keySummary` adds it where a message quotes the key.
   */
  doc: string;
  /**
   * The StackConfig field the key's value, or its default, fills. Absent for
   * secret keys (the program reads them from ParsedConfig.secretKeys) and for
   * keys that only the cross-key rules after the per-key step read.
   */
  target?: ConfigField;
  /** The value an unset key takes; a function of the stack name when it depends on it. */
  default?: unknown;
  /** The key whose value an unset key takes: sshHost takes lanAddress. */
  defaultFrom?: string;
  /** What an unset key means when it takes no value: services unset runs "all". */
  unsetMeans?: string;
  /** Turns the checked value into the field's value, as mkOption's `apply` does. */
  apply?: (value: never) => unknown;
  required?: boolean;
  /** Secret keys are read by the Pulumi program only; the offline plan never needs them. */
  secret?: boolean;
  /** Allowed whole numbers, for kind number. */
  range?: Range;
  /** Allowed values, for an enum. */
  oneOf?: readonly string[];
  /** The allow-list of a string, or of each element of a list. */
  check?: Check;
  /** What a good value looks like, for the fix of a refused one. */
  expect?: string;
  /** Longest allowed string. @default 253 */
  maxLength?: number;
}

/** What a record puts in its field: `apply`'s result, one of `oneOf`, or a value of its kind. */
type Produced<S> = S extends { apply: (value: never) => infer R }
  ? R
  : S extends { oneOf: readonly (infer O)[] }
    ? O
    : S extends { kind: infer K extends Kind }
      ? KindValue[K]
      : never;

type TargetAgrees<S> = S extends { target: infer P extends ConfigField }
  ? [Produced<S>] extends [FieldType<StackConfig, P>]
    ? unknown
    : { targetMismatch: `StackConfig.${P} cannot hold what this key produces` }
  : unknown;

type DefaultAgrees<S> = S extends { default: infer D; kind: infer K extends Kind }
  ? [D] extends [Produced<S> | ((stack: string) => KindValue[K])]
    ? unknown
    : { defaultMismatch: "the default is not a value of this key" }
  : unknown;

/**
 * Declare a key. The compiler refuses a record whose target is not a field
 * of StackConfig, or a field whose type cannot hold what the record produces,
 * or a default that is not a value of the key; the error names the property.
 */
export function option<const S extends KeySpec>(spec: S & TargetAgrees<S> & DefaultAgrees<S>): S {
  return spec;
}

/**
 * How an unset key's default reads: a value (with `<stack>` where it depends
 * on the stack), the key whose value it copies, or what unset means.
 */
export function defaultShown(spec: KeySpec): { text: string; is: "value" | "key" | "meaning" } | undefined {
  if (spec.default !== undefined) return { text: String(defaultValue(spec, "<stack>")), is: "value" };
  if (spec.defaultFrom !== undefined) return { text: spec.defaultFrom, is: "key" };
  if (spec.unsetMeans !== undefined) return { text: spec.unsetMeans, is: "meaning" };
  return undefined;
}

/** The key's doc with its default, as the fix of a message quotes it: "SSH port; default 22". */
export function keySummary(spec: KeySpec): string {
  const shown = defaultShown(spec);
  return shown ? `${spec.doc}; default ${shown.text}` : spec.doc;
}

/** The value of an unset key with a `default`, for this stack; undefined for a key without one. */
export function defaultValue(spec: KeySpec, stack: string): unknown {
  return typeof spec.default === "function" ? (spec.default as (stack: string) => unknown)(stack) : spec.default;
}

// One schema per message: the TypeBox schema gives the TypeScript type and the
// runtime check. TypeBox's Value module needs no code generation (no eval), so
// the same validator runs under the renderer's strict CSP.
import type { Static, TSchema } from '@sinclair/typebox';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => ISO_DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)));
if (!FormatRegistry.Has('date')) FormatRegistry.Set('date', (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v)));
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  });
}

export interface SchemaIssue {
  path: string;
  message: string;
}

/** Lists at most `limit` issues of `value` against `schema`; empty when valid. */
export function schemaIssues(schema: TSchema, value: unknown, limit = 10): SchemaIssue[] {
  // Checking is several times cheaper than listing errors, and almost every value is valid.
  if (Value.Check(schema, value)) return [];
  const issues: SchemaIssue[] = [];
  for (const error of Value.Errors(schema, value)) {
    issues.push({ path: error.path === '' ? '/' : error.path, message: error.message });
    if (issues.length >= limit) break;
  }
  return issues;
}

export function isValid<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  return Value.Check(schema, value);
}

/**
 * Checks `value` against `schema` and returns it typed, or throws the error that
 * `makeError` builds from the issues (so each boundary throws its own typed error).
 */
export function parseWith<T extends TSchema, E extends Error>(
  schema: T,
  value: unknown,
  makeError: (summary: string, issues: SchemaIssue[]) => E,
): Static<T> {
  if (Value.Check(schema, value)) return value;
  const issues = schemaIssues(schema, value);
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw makeError(summary, issues);
}

/**
 * parseWith for answers from a peer that may be newer than us: properties the schema does
 * not know are dropped (in each variant of a union too), everything else must match.
 */
export function parseLenient<T extends TSchema, E extends Error>(
  schema: T,
  value: unknown,
  makeError: (summary: string, issues: SchemaIssue[]) => E,
): Static<T> {
  const variants = Array.isArray(schema.anyOf) ? (schema.anyOf as TSchema[]) : [schema];
  for (const variant of variants) {
    const cleaned = Value.Clean(variant, structuredClone(value));
    if (Value.Check(schema, cleaned)) return cleaned;
  }
  return parseWith(schema, value, makeError);
}

// One entry of the managed setting postureSupportData: a JSON object whose `kind` says which part
// of the posture support data (common/posture.ts, SupportDataSchema) it adds to. Each kind takes
// its fields from that schema, so an entry and the support data cannot drift apart.
import { Type, type Static } from '@sinclair/typebox';
import { SupportDataSchema } from './posture.js';
import { isValid, schemaIssues } from './validate.js';

const part = SupportDataSchema.properties;

export const SupportDataEntrySchema = Type.Union([
  Type.Object({ kind: Type.Literal('windowsUpdate'), ...part.windowsUpdates.items.properties }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('windowsRelease'), ...part.windowsReleases.items.properties }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('linuxRelease'), ...part.linuxReleases.items.properties }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('macosRelease'), ...part.macosReleases.items.properties }, { additionalProperties: false }),
  /** The day IT last checked its entries against the vendors' pages. */
  Type.Object({ kind: Type.Literal('reviewedOn'), date: Type.String({ format: 'date' }) }, { additionalProperties: false }),
]);
export type SupportDataEntry = Static<typeof SupportDataEntrySchema>;

type EntryVariant = (typeof SupportDataEntrySchema.anyOf)[number];
// Looked up by the entry's own `kind`: a Map, so `__proto__` or `constructor` finds nothing.
const VARIANTS = new Map<string, EntryVariant>(SupportDataEntrySchema.anyOf.map((v) => [v.properties.kind.const, v]));
export const SUPPORT_DATA_ENTRY_KINDS: readonly string[] = [...VARIANTS.keys()];

/** Far above any valid entry (a release name is at most 80 characters); refused before parsing. */
export const SUPPORT_DATA_ENTRY_MAX_LENGTH = 1024;

export type SupportDataEntryResult = { readonly ok: true; readonly entry: SupportDataEntry } | { readonly ok: false; readonly reason: string };

/** Parses one entry's text; says why it is not usable, in words for IT. */
export function parseSupportDataEntry(text: string): SupportDataEntryResult {
  if (text.length > SUPPORT_DATA_ENTRY_MAX_LENGTH) return { ok: false, reason: `it is longer than ${SUPPORT_DATA_ENTRY_MAX_LENGTH} characters` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `it is not JSON (${(e as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'it is not a JSON object' };
  // JSON.parse makes `__proto__` an own property, never the prototype: only own properties count.
  const kind: unknown = Object.hasOwn(value, 'kind') ? (value as { kind: unknown }).kind : undefined;
  const kinds = SUPPORT_DATA_ENTRY_KINDS.join(', ');
  if (typeof kind !== 'string') return { ok: false, reason: `it has no "kind" (one of ${kinds})` };
  const variant = VARIANTS.get(kind);
  if (variant === undefined) return { ok: false, reason: `"kind" ${JSON.stringify(kind)} is not one of ${kinds}` };
  if (isValid(variant, value)) return { ok: true, entry: value };
  // TypeBox may report one field twice (missing, then of the wrong type): the first says it.
  const byPath = new Map<string, string>();
  for (const issue of schemaIssues(variant, value)) if (!byPath.has(issue.path)) byPath.set(issue.path, issue.message);
  return { ok: false, reason: [...byPath].map(([path, message]) => `${path}: ${message}`).join('; ') };
}

// The audit page's address: the filter IT typed into its form (device, actor, action, outcome,
// from, until), the page (`before`) or one record (`record`), read from the query string and
// checked before the data layer sees it. An empty field is no filter (a GET form sends every
// field). Times are UTC: the form's datetime-local value, or a date alone (a day's start; for
// `to`, the next day's start, so "until 2026-11-30" includes that day). Anything else is
// BAD_INPUT with the reason, shown on the error page.
import { ConsoleError } from '../console-errors.js';
import type { AuditFilter, AuditOutcome } from '../data/console-data-types.js';
import { AUDIT_OUTCOMES } from '../data/console-data-types.js';

/** The filter as the form shows it: each field's text as typed (empty when not set). */
export interface AuditForm {
  readonly device: string;
  readonly actor: string;
  readonly action: string;
  readonly outcome: string;
  readonly from: string;
  readonly to: string;
}

export const AUDIT_FILTER_FIELDS = ['device', 'actor', 'action', 'outcome', 'from', 'to'] as const;

/** The query fields the audit page knows, each with its longest value. */
export const AUDIT_PAGE_QUERY: ReadonlyMap<string, number> = new Map([
  ['device', 64],
  ['actor', 200],
  ['action', 64],
  ['outcome', 16],
  ['from', 32],
  ['to', 32],
  ['before', 16],
  ['record', 16],
]);

/** The export's fields: the filter and the format; a page's bounds would make it something else. */
export const AUDIT_EXPORT_QUERY: ReadonlyMap<string, number> = new Map([...[...AUDIT_PAGE_QUERY].filter(([name]) => name !== 'before' && name !== 'record'), ['format', 8]]);

const DAY_MS = 86_400_000;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

export function auditFormFrom(query: ReadonlyMap<string, string>): AuditForm {
  const field = (name: (typeof AUDIT_FILTER_FIELDS)[number]): string => (query.get(name) ?? '').trim();
  return { device: field('device'), actor: field('actor'), action: field('action'), outcome: field('outcome'), from: field('from'), to: field('to') };
}

/** The data layer's filter for the form; the data layer checks device, actor and action again. */
export function auditFilterFrom(form: AuditForm): AuditFilter {
  if (form.outcome !== '' && !isOutcome(form.outcome)) throw new ConsoleError('BAD_INPUT', `The outcome is one of ${AUDIT_OUTCOMES.join(', ')}.`);
  if (form.device !== '' && !/^[0-9a-f]{32}$/.test(form.device)) throw new ConsoleError('BAD_INPUT', 'A device id is 32 lower-case hexadecimal characters.');
  const from = form.from === '' ? undefined : utcTime('from', form.from, false);
  const to = form.to === '' ? undefined : utcTime('until', form.to, true);
  if (from !== undefined && to !== undefined && from >= to) throw new ConsoleError('BAD_INPUT', 'The time range ends before it begins.');
  return {
    ...(form.device !== '' ? { deviceId: form.device } : {}),
    ...(form.actor !== '' ? { actor: form.actor } : {}),
    ...(form.action !== '' ? { action: form.action } : {}),
    ...(isOutcome(form.outcome) ? { outcome: form.outcome } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}

/** A record id from the address (`before`, `record`): a whole number of at most 15 digits. */
export function recordIdFrom(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[1-9][0-9]{0,14}$/.test(value)) throw new ConsoleError('BAD_INPUT', `The ${name} is an audit record number.`);
  return Number(value);
}

/** The form's set fields as a query string (for the export link and the next page). */
export function auditQueryString(form: AuditForm, extra: readonly (readonly [string, string])[] = []): string {
  const params = new URLSearchParams();
  for (const name of AUDIT_FILTER_FIELDS) if (form[name] !== '') params.set(name, form[name]);
  for (const [name, value] of extra) params.set(name, value);
  return params.toString();
}

function isOutcome(value: string): value is AuditOutcome {
  return (AUDIT_OUTCOMES as readonly string[]).includes(value);
}

function utcTime(label: string, text: string, endOfDay: boolean): number {
  const m = DATE_TIME.exec(text);
  if (m === null) throw new ConsoleError('BAD_INPUT', `The ${label} time is a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM), in UTC.`);
  const [year, month, day, hour, minute, second] = m.slice(1).map((part) => (part === undefined ? 0 : Number(part))) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(ms);
  // Date.UTC rolls 2026-02-31 over into March: a date that does not come back whole is no date.
  if (year < 1970 || back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new ConsoleError('BAD_INPUT', `The ${label} time ${JSON.stringify(text)} is not a real date and time.`);
  }
  return endOfDay && m[4] === undefined ? ms + DAY_MS : ms;
}

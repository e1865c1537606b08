// What the console accepts from a request, checked before anything reads it: the query string
// and form fields as Maps (a repeated or unknown name, a control character or an over-long value
// is BAD_INPUT), path ids by their exact form, and the person's language.
import type { FastifyRequest } from 'fastify';
import { ConsoleError } from './console-errors.js';
import type { Locale } from './messages.js';
import { isLocale } from './messages.js';
import { LANGUAGE_COOKIE, parseCookies } from './cookies.js';

const CONTROL = /[\p{Cc}\p{Cf}]/u;
/** Control and format characters except tab, line feed and carriage return (a reason may have lines). */
const CONTROL_BUT_NEWLINES = /(?![\t\n\r])[\p{Cc}\p{Cf}]/u;

/** Form bodies (application/x-www-form-urlencoded) parse into this, never into an object. */
export class FormFields {
  constructor(readonly fields: ReadonlyMap<string, string>) {}
}

function fieldsOf(text: string, allowed: ReadonlyMap<string, number>, what: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    const max = allowed.get(name);
    if (max === undefined) throw new ConsoleError('BAD_INPUT', `The ${what} has a field the console does not know: ${JSON.stringify(name.slice(0, 40))}.`);
    if (fields.has(name)) throw new ConsoleError('BAD_INPUT', `The ${what} names ${name} twice.`);
    if (value.length > max) throw new ConsoleError('BAD_INPUT', `The ${what}'s ${name} is longer than ${max} characters.`);
    fields.set(name, value);
  }
  return fields;
}

/** The query string's fields; `allowed` maps each name the route knows to its longest value. */
export function queryFields(request: FastifyRequest, allowed: ReadonlyMap<string, number>): Map<string, string> {
  const url = request.raw.url ?? '';
  const at = url.indexOf('?');
  if (at < 0) return new Map();
  const fields = fieldsOf(url.slice(at + 1), allowed, 'address');
  for (const [name, value] of fields) {
    if (CONTROL.test(value)) throw new ConsoleError('BAD_INPUT', `The address's ${name} holds a control character.`);
  }
  return fields;
}

/** The form's fields (a body that is not a form is BAD_INPUT). */
export function formFields(request: FastifyRequest, allowed: ReadonlyMap<string, number>): Map<string, string> {
  const body: unknown = request.body;
  if (!(body instanceof FormFields)) throw new ConsoleError('BAD_INPUT', 'The console takes only its own forms (application/x-www-form-urlencoded).');
  const fields = new Map<string, string>();
  for (const [name, value] of body.fields) {
    const max = allowed.get(name);
    if (max === undefined) throw new ConsoleError('BAD_INPUT', `The form has a field the console does not know: ${JSON.stringify(name.slice(0, 40))}.`);
    if (value.length > max) throw new ConsoleError('BAD_INPUT', `The form's ${name} is longer than ${max} characters.`);
    fields.set(name, value);
  }
  return fields;
}

/** Parses a form body; a name given twice is refused here, before any route sees it. */
export function parseFormBody(text: string): FormFields {
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (fields.has(name)) throw new ConsoleError('BAD_INPUT', `The form names ${JSON.stringify(name.slice(0, 40))} twice.`);
    fields.set(name, value);
  }
  return new FormFields(fields);
}

/** A reason for the audit: required, printable (line breaks allowed), at most `max` characters. */
export function reasonFrom(fields: ReadonlyMap<string, string>, max: number): string {
  const reason = (fields.get('reason') ?? '').trim();
  if (reason === '') throw new ConsoleError('BAD_INPUT', 'A reason is required: it goes into the audit log.');
  if (reason.length > max) throw new ConsoleError('BAD_INPUT', `The reason is longer than ${max} characters.`);
  if (CONTROL_BUT_NEWLINES.test(reason)) throw new ConsoleError('BAD_INPUT', 'The reason holds a control character.');
  return reason;
}

const DEVICE_ID = /^[0-9a-f]{32}$/;

export function deviceIdFrom(value: string): string {
  if (!DEVICE_ID.test(value)) throw new ConsoleError('BAD_INPUT', 'A device id is 32 lower-case hexadecimal characters.');
  return value;
}

/** The language: the person's choice (cookie), else the first of ours in Accept-Language, else English. */
export function localeOf(request: FastifyRequest): Locale {
  const chosen = parseCookies(request.headers.cookie).get(LANGUAGE_COOKIE);
  if (chosen !== undefined && isLocale(chosen)) return chosen;
  const header = request.headers['accept-language'];
  if (typeof header !== 'string' || header.length > 1024) return 'en';
  const ranked = header
    .split(',')
    .slice(0, 32)
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([01](?:\.\d{1,3})?)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { language: tag.trim().toLowerCase().split('-')[0] ?? '', q: q === undefined ? 1 : Number(q), index };
    })
    .filter((l) => l.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked.map((l) => l.language).find(isLocale) ?? 'en';
}

/** A path inside the console to come back to (the language switch): nothing that could leave it. */
export function consolePathFrom(value: string): string {
  if (!/^\/console\/[A-Za-z0-9\-._~/?=&%+*]*$/.test(value) || value.includes('//') || value.length > 512) throw new ConsoleError('BAD_INPUT', 'The page to come back to is not a console page.');
  return value;
}

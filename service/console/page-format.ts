// Values as the console shows them, in the person's language: times, tiers, statuses and key
// protection, with a plain word for "never" and "none" instead of an empty cell.
import type { MessageKey, Translate } from './messages.js';
import type { Locale } from './messages.js';

const FORMATS: ReadonlyMap<Locale, Intl.DateTimeFormat> = new Map([
  ['en', new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })],
  ['de', new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })],
]);

/** A time (ISO string or ms) in the person's language, in UTC (said so), or "never". */
export function formatTime(locale: Locale, t: Translate, value: string | number | null): string {
  if (value === null) return t('value.never');
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return t('value.never');
  return `${FORMATS.get(locale)?.format(date) ?? date.toISOString()} UTC`;
}

const TIER_KEYS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['full', 'tier.full'],
  ['limited', 'tier.limited'],
  ['none', 'tier.none'],
]);
const STATUS_KEYS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['pending', 'status.pending'],
  ['active', 'status.active'],
  ['disabled', 'status.disabled'],
  ['revoked', 'status.revoked'],
]);
const PROTECTION_KEYS: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['hardware', 'protection.hardware'],
  ['software', 'protection.software'],
]);

export const tierText = (t: Translate, tier: string | null): string => t(TIER_KEYS.get(tier ?? '') ?? 'tier.unknown');
export const statusText = (t: Translate, status: string): string => {
  const key = STATUS_KEYS.get(status);
  return key === undefined ? status : t(key);
};
export const protectionText = (t: Translate, protection: string | null): string => t(PROTECTION_KEYS.get(protection ?? '') ?? 'protection.unknown');

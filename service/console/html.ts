// The console's one way to write HTML: a tagged template that escapes every value it is given,
// unless the value is already HTML made by this same tag. Nothing else builds markup, so text
// from a device, the provider or the query string can never become markup.
const SAFE = Symbol('safe-html');

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

type Value = SafeHtml | string | number | null | undefined | readonly Value[];

const ESCAPES: ReadonlyMap<string, string> = new Map([
  ['&', '&amp;'],
  ['<', '&lt;'],
  ['>', '&gt;'],
  ['"', '&quot;'],
  ["'", '&#39;'],
]);

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES.get(c) ?? c);
}

function isSafe(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && SAFE in value;
}

function render(value: Value): string {
  if (value === null || value === undefined) return '';
  if (isSafe(value)) return value.text;
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number') return escapeHtml(String(value));
  return value.map(render).join('');
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? '');
  });
  return { [SAFE]: true, text };
}

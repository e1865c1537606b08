// A strict reader of the Prometheus text exposition format (version 0.0.4): every line is a
// comment (# HELP / # TYPE), blank, or a sample `name{label="value",...} number`; anything else
// fails the test, so a scrape is parsed, not searched with a loose pattern.
export interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  readonly types: ReadonlyMap<string, string>;
  /** The value of the one sample named `name` whose labels include `labels`; 0 when none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/;

function parseLabels(text: string, line: string): Map<string, string> {
  const labels = new Map<string, string>();
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (m === null) throw new Error(`bad labels in: ${line}`);
    const [all, key = '', raw = ''] = m;
    if (labels.has(key)) throw new Error(`label ${key} twice in: ${line}`);
    labels.set(key, raw.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c)));
    rest = rest.slice(all.length);
  }
  return labels;
}

/** A sample's value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string, line: string): number {
  if (/^nan$/i.test(text)) return NaN;
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
      if (m === null) throw new Error(`bad comment: ${line}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? '')) throw new Error(`bad type: ${line}`);
        types.set(m[2] ?? '', m[3] ?? '');
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`bad sample: ${line}`);
    samples.push({ name: m[1] ?? '', labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3] ?? '', line) });
  }
  return {
    samples,
    types,
    value(name, labels = {}) {
      const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels.get(k) === v));
      if (matching.length > 1 && Object.keys(labels).length > 0) throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return matching[0]?.value ?? 0;
    },
  };
}

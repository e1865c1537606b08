// The effective configuration: managed policy first (IT's MDM: Windows registry policy
// keys, macOS managed preferences, Linux policy files), then the user's own settings for
// what IT did not lock, then the defaults. Every value knows its source. A bad entry is
// reported with its key and source and skipped; the rest still applies, nothing weaker than
// the default is taken from anywhere but managed policy, and a security setting (managedOnly)
// from nowhere else at all.
import type { ManagedValue, SettingSpec } from '../../common/managed-config.js';
import { MANAGED_SETTINGS, checkSetting, weakerThanDefault } from '../../common/managed-config.js';

export interface ConfigLayer {
  /** Where the values came from, in words IT recognises (a file path, a registry key). */
  readonly source: string;
  readonly managed: boolean;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface ConfigProblem {
  readonly source: string;
  readonly key: string | null;
  readonly message: string;
}

export interface EffectiveSetting {
  readonly value: ManagedValue;
  readonly source: string;
  /** Set by the organisation: the tray shows "managed by your organization". */
  readonly managed: boolean;
}

export interface EffectiveConfig {
  readonly settings: Readonly<Record<string, EffectiveSetting>>;
  readonly problems: readonly ConfigProblem[];
}

export function resolveConfig(layers: readonly ConfigLayer[], problems: readonly ConfigProblem[] = [], specs: readonly SettingSpec[] = MANAGED_SETTINGS): EffectiveConfig {
  const found: ConfigProblem[] = [...problems];
  const settings: Record<string, EffectiveSetting> = {};
  const known = new Set(specs.map((s) => s.key));
  for (const layer of layers) {
    for (const key of Object.keys(layer.values)) {
      if (!known.has(key)) found.push({ source: layer.source, key, message: `Unknown setting "${key}" in ${layer.source}; it is ignored.` });
    }
  }
  for (const spec of specs) {
    let chosen: EffectiveSetting | null = null;
    for (const layer of [...layers.filter((l) => l.managed), ...layers.filter((l) => !l.managed)]) {
      // Own values only: a layer's prototype (a parser's plain object) is not configuration.
      if (!Object.hasOwn(layer.values, spec.key)) continue;
      // Whatever its value: a security setting in a person's own file is not looked at.
      if (!layer.managed && spec.managedOnly === true) {
        found.push({ source: layer.source, key: spec.key, message: `Setting "${spec.key}" in ${layer.source} is ignored: it is a security setting, and only your organisation can set that (managed policy); the default applies.` });
        continue;
      }
      const checked = checkSetting(spec, layer.values[spec.key]);
      if (!checked.ok) {
        found.push({ source: layer.source, key: spec.key, message: `Setting "${spec.key}" in ${layer.source} is ${checked.reason}; ${layer.managed ? 'the next source or the default applies' : 'the default applies'}.` });
        continue;
      }
      if (!layer.managed && weakerThanDefault(spec, checked.value)) {
        found.push({ source: layer.source, key: spec.key, message: `Setting "${spec.key}" in ${layer.source} would be weaker than the default; only your organisation can set that.` });
        continue;
      }
      chosen = { value: checked.value, source: layer.source, managed: layer.managed };
      break;
    }
    settings[spec.key] = chosen ?? { value: spec.default, source: 'default', managed: false };
  }
  return { settings, problems: found };
}

/** The value for logs and the tray: secrets are masked. */
export function displayValue(spec: SettingSpec, value: ManagedValue): string {
  if (spec.secret && value !== null) return '••••••';
  return Array.isArray(value) ? value.join(', ') : String(value);
}

// Reads each place configuration can come from into a layer, turning an unreadable or
// half-written file into a problem (naming the file) instead of an error.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANAGED_SETTINGS } from '../../common/managed-config.js';
import type { PlistValue } from './plist.js';
import { parsePlist } from './plist.js';
import type { RegistrySource } from './registry-export.js';
import type { ConfigLayer, ConfigProblem } from './resolve-config.js';

export interface LayerResult {
  readonly layers: ConfigLayer[];
  readonly problems: ConfigProblem[];
}

export const LINUX_POLICY_DIR = '/etc/device-trust/policies/managed';
/** The macOS managed preferences domain; the templates in native-config/ use it too. */
export const PREFERENCE_DOMAIN = 'org.devicetrust.agent';
export const MACOS_MANAGED_PREFERENCES = `/Library/Managed Preferences/${PREFERENCE_DOMAIN}.plist`;
/** The Windows policy key under HKLM and HKCU; the ADMX in native-config/ uses it too. */
export const WINDOWS_POLICY_SUBKEY = 'Software\\Policies\\DeviceTrust\\Agent';
export const WINDOWS_POLICY_KEYS = [`HKEY_LOCAL_MACHINE\\${WINDOWS_POLICY_SUBKEY}`, `HKEY_CURRENT_USER\\${WINDOWS_POLICY_SUBKEY}`] as const;

/** Every *.json under the Linux policy folder, in name order (a later file wins on the same key). */
export async function readLinuxPolicies(root = ''): Promise<LayerResult> {
  const dir = root + LINUX_POLICY_DIR;
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { layers: [], problems: [] };
    return { layers: [], problems: [{ source: dir, key: null, message: `The policy folder ${dir} cannot be read: ${(e as Error).message}` }] };
  }
  const layers: ConfigLayer[] = [];
  const problems: ConfigProblem[] = [];
  for (const name of names.reverse()) {
    const path = join(LINUX_POLICY_DIR, name);
    try {
      const value: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the file is not a JSON object');
      layers.push({ source: path, managed: true, values: value as Record<string, unknown> });
    } catch (e) {
      problems.push({ source: path, key: null, message: `The policy file ${path} cannot be used (${(e as Error).message}); the other sources still apply.` });
    }
  }
  return { layers, problems };
}

function fromPlist(value: PlistValue): unknown {
  if (Array.isArray(value)) return value.map(fromPlist);
  if (value instanceof Date || value instanceof Uint8Array) return String(value);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromPlist(v)]));
  return value;
}

/** macOS managed preferences (forced by a configuration profile), binary or XML plist. */
export async function readMacManagedPreferences(root = '', path = MACOS_MANAGED_PREFERENCES): Promise<LayerResult> {
  let data: Buffer;
  try {
    data = await readFile(root + path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { layers: [], problems: [] };
    return { layers: [], problems: [{ source: path, key: null, message: `The managed preferences ${path} cannot be read: ${(e as Error).message}` }] };
  }
  try {
    const value = fromPlist(parsePlist(data));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a dictionary');
    return { layers: [{ source: path, managed: true, values: value as Record<string, unknown> }], problems: [] };
  } catch (e) {
    return { layers: [], problems: [{ source: path, key: null, message: `The managed preferences ${path} cannot be used (${(e as Error).message}); the other sources still apply.` }] };
  }
}

/** Windows policy keys (HKLM first, then HKCU); list settings live in a subkey of their name. */
export function readWindowsPolicies(registry: RegistrySource): LayerResult {
  const layers: ConfigLayer[] = [];
  for (const key of WINDOWS_POLICY_KEYS) {
    // Value names come from the registry: no prototype, so `__proto__` is a name like any other.
    const out = Object.create(null) as Record<string, unknown>;
    for (const [name, v] of registry.values(key) ?? []) out[name] = v.value;
    // A GPO that sets only a list leaves the key itself without values: read the subkeys anyway.
    for (const spec of MANAGED_SETTINGS.filter((s) => s.type === 'string-list')) {
      const sub = registry.values(`${key}\\${spec.key}`);
      if (sub !== null && sub.size > 0) out[spec.key] = [...sub.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([, v]) => String(v.value));
    }
    if (Object.keys(out).length > 0) layers.push({ source: key, managed: true, values: out });
  }
  return { layers, problems: [] };
}

/** The user's own settings (what IT did not lock), a JSON file. */
export async function readUserSettings(path: string): Promise<LayerResult> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the file is not a JSON object');
    return { layers: [{ source: path, managed: false, values: value as Record<string, unknown> }], problems: [] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { layers: [], problems: [] };
    return { layers: [], problems: [{ source: path, key: null, message: `Your settings file ${path} cannot be used (${(e as Error).message}); the defaults apply.` }] };
  }
}

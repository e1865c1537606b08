// `dta browser-policies --config FILE --out DIR [--loopback-only]`: writes Chrome's and Edge's
// Local Network Access policies (Windows .reg and PowerShell, macOS profile and plists, Linux
// JSON) for the web origins in IT's managed configuration, the file IT already deploys to the
// agent: the Linux policy JSON, the macOS managed preferences plist or configuration profile,
// or a `reg export` of the agent's Windows policy key. It ships inside the agent, so IT needs
// nothing else, and it reads allowedOrigins with the agent's own check, so a page the agent
// answers is exactly a page the browsers let through (docs/deploy/browsers.md).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentError } from '../../common/errors.js';
import { browserPolicyFiles, originsOfAllowedOrigins } from '../config/browser-policies.js';
import { PREFERENCE_DOMAIN, readWindowsPolicies } from '../config/config-sources.js';
import type { PlistValue } from '../config/plist.js';
import { parsePlist } from '../config/plist.js';
import { decodeRegFile, parseRegExport } from '../config/registry-export.js';

export interface BrowserPoliciesIo {
  readonly out: (text: string) => void;
}

/** Larger than any managed configuration; a bigger file is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

const isDict = (v: PlistValue | undefined): v is { [key: string]: PlistValue } => v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);

/** The managed settings in a plist: the dictionary itself, or our payload of a configuration profile. */
function settingsOfPlist(value: PlistValue, source: string): { [key: string]: PlistValue } {
  if (!isDict(value)) throw new AgentError('CONFIG_INVALID', `${source} is not a property list dictionary.`);
  const content = Object.hasOwn(value, 'PayloadContent') ? value['PayloadContent'] : undefined;
  if (content === undefined) return value;
  const ours = Array.isArray(content) ? content.filter(isDict).filter((p) => p['PayloadType'] === PREFERENCE_DOMAIN) : [];
  const payload = ours[0];
  if (ours.length !== 1 || payload === undefined) throw new AgentError('CONFIG_INVALID', `${source} is a configuration profile without exactly one ${PREFERENCE_DOMAIN} payload.`);
  return payload;
}

/** allowedOrigins as written in IT's file, whichever of the three forms it is. */
export function allowedOriginsIn(data: Uint8Array, source: string): unknown {
  const start = new TextDecoder('latin1').decode(data.subarray(0, 64)).replace(/^(\xef\xbb\xbf|\xff\xfe)/, '').replace(/\0/g, '').trimStart();
  try {
    if (start.startsWith('bplist') || start.startsWith('<?xml') || start.startsWith('<plist')) {
      const settings = settingsOfPlist(parsePlist(data), source);
      return Object.hasOwn(settings, 'allowedOrigins') ? settings['allowedOrigins'] : undefined;
    }
    if (start.startsWith('Windows Registry Editor') || start.startsWith('REGEDIT4')) {
      // The machine's key first, as the agent reads it.
      const layer = readWindowsPolicies(parseRegExport(decodeRegFile(data))).layers.find((l) => Object.hasOwn(l.values, 'allowedOrigins'));
      return layer?.values['allowedOrigins'];
    }
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data).replace(/^\uFEFF/, ''));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('the file is not a JSON object');
    return Object.hasOwn(value, 'allowedOrigins') ? (value as { allowedOrigins: unknown }).allowedOrigins : undefined;
  } catch (e) {
    if (e instanceof AgentError) throw e;
    throw new AgentError('CONFIG_INVALID', `${source} is not a managed configuration the agent reads (JSON, plist, configuration profile or registry export): ${(e as Error).message}`, { cause: e });
  }
}

export async function browserPoliciesCommand(args: readonly string[], io: BrowserPoliciesIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, out: { type: 'string' }, 'loopback-only': { type: 'boolean', default: false } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta browser-policies needs --config FILE: the agent\'s managed configuration (Linux JSON, macOS plist or profile, Windows registry export).');
  if (values.out === undefined) throw new AgentError('USAGE', 'dta browser-policies needs --out DIR: where the browser policies are written.');
  let data: Buffer;
  try {
    data = await readFile(values.config);
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `The managed configuration ${values.config} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  if (data.length > MAX_CONFIG_BYTES) throw new AgentError('CONFIG_INVALID', `${values.config} is larger than ${MAX_CONFIG_BYTES} bytes: not a managed configuration.`);
  const origins = originsOfAllowedOrigins(allowedOriginsIn(data, values.config), values.config);
  const files = browserPolicyFiles(origins, { loopbackOnly: values['loopback-only'] ?? false });
  const out = resolve(values.out);
  for (const [path, content] of files) {
    await mkdir(dirname(join(out, path)), { recursive: true });
    await writeFile(join(out, path), content, { mode: 0o644 });
  }
  io.out(`Local Network Access policies for ${origins.join(', ')}:\n${[...files.keys()].map((p) => `  ${join(out, p)}\n`).join('')}Where each goes: docs/deploy/browsers.md.\n`);
  return 0;
}

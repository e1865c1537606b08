// WinHTTP's "advanced" proxy settings, which Windows 11 and Windows Server 2022 keep apart from
// the legacy ones (`netsh winhttp set advproxy`; Microsoft marks `show proxy` deprecated in its
// favour): a proxy, a bypass list and, unlike the legacy settings, a PAC URL. Read from
// `netsh winhttp show advproxy`, whose output is a heading and one JSON object. The parser is
// pure and tested with recorded outputs (tests/fixtures/win32/winhttp-advproxy).
import type { WinHttpProxy } from './winhttp-proxy.js';
import { parseBypassList, parseServerList } from './winhttp-proxy.js';

export interface WinHttpAdvancedProxy {
  /** The proxy these settings name (direct when none, or when it is switched off). */
  readonly proxy: WinHttpProxy;
  /** The PAC URL, or null when none is set or it is switched off. */
  readonly pacUrl: string | null;
  /** Automatic detection (WPAD) is on: the agent does not follow it (see system-proxy.ts). */
  readonly autoDetect: boolean;
}

// The fields Microsoft documents, by lower-case name; others (a connection's name) are not read.
const FLAGS = ['proxyisenabled', 'autoconfigisenabled', 'autodetect', 'peruserproxysettings'] as const;
const TEXTS = ['proxy', 'proxybypass', 'autoconfigurl'] as const;

/** The JSON object's fields by lower-case name: Microsoft's own pages spell `AutoconfigUrl` and `AutoConfigUrl`. */
function fieldsOf(stdout: string): Map<string, unknown> | null {
  const start = stdout.indexOf('{');
  const end = stdout.lastIndexOf('}');
  if (start === -1 || end < start) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.slice(start, end + 1));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  return new Map(Object.entries(parsed).map(([k, v]) => [k.toLowerCase(), v]));
}

/** A setting's text, trimmed; null when absent, blank (Windows 11 writes " " for none) or not text. */
function text(fields: Map<string, unknown>, name: string): string | null {
  const value = fields.get(name);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** Off only when the output says so: Windows Server 2022 prints no `…IsEnabled` fields at all. */
function switchedOn(fields: Map<string, unknown>, name: string): boolean {
  return fields.get(name) !== false;
}

/** The advanced settings from netsh's output, or null when it holds no JSON object of settings. */
export function parseWinHttpAdvancedProxy(stdout: string): WinHttpAdvancedProxy | null {
  const fields = fieldsOf(stdout);
  if (fields === null) return null;
  // A known field of the wrong type is not a setting the agent understands: no guess from the rest.
  if (FLAGS.some((f) => fields.has(f) && typeof fields.get(f) !== 'boolean') || TEXTS.some((f) => fields.has(f) && typeof fields.get(f) !== 'string')) return null;
  const serverList = switchedOn(fields, 'proxyisenabled') ? text(fields, 'proxy') : null;
  const servers = parseServerList(serverList ?? '');
  const proxy: WinHttpProxy = servers.size === 0 ? { kind: 'direct' } : { kind: 'proxy', servers, bypass: parseBypassList(text(fields, 'proxybypass') ?? undefined) };
  const pacUrl = switchedOn(fields, 'autoconfigisenabled') ? text(fields, 'autoconfigurl') : null;
  return { proxy, pacUrl, autoDetect: fields.get('autodetect') === true };
}

// IT's break-glass key pair on disk. The private key is made once, in advance, on a machine
// IT controls, and then kept offline (a safe, a sealed USB stick): it is the only thing that
// can declare emergency access, so it is written 0600 and never over an existing key, and it
// is refused when anyone but its owner could read it. The public half (a JWK with its kid)
// goes into every access service's configuration and the device trust service's.
import { webcrypto } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BreakGlassPublicJwk } from '../../common/break-glass.js';
import { breakGlassKeyId } from '../../common/break-glass.js';

export const PRIVATE_KEY_FILE = 'break-glass-private.jwk';
export const PUBLIC_KEY_FILE = 'break-glass-public.jwk.json';

export type BreakGlassKeyFileErrorCode = 'KEY_FILE_EXISTS' | 'KEY_FILE_UNREADABLE' | 'KEY_FILE_EXPOSED' | 'KEY_FILE_INVALID';

export class BreakGlassKeyFileError extends Error {
  override readonly name = 'BreakGlassKeyFileError';
  readonly code: BreakGlassKeyFileErrorCode;

  constructor(code: BreakGlassKeyFileErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface BreakGlassPrivateJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d: string;
  readonly kid: string;
}

const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** Makes a new key pair in `dir`; returns both paths and the public JWK. */
export async function generateBreakGlassKeys(dir: string): Promise<{ privatePath: string; publicPath: string; publicJwk: BreakGlassPublicJwk & { kid: string } }> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwk = await webcrypto.subtle.exportKey('jwk', pair.privateKey);
  const publicPart = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) } as const;
  const kid = await breakGlassKeyId(publicPart);
  const privatePath = join(root, PRIVATE_KEY_FILE);
  const publicPath = join(root, PUBLIC_KEY_FILE);
  try {
    // 'wx': a second keygen into the same folder must not destroy the key the access services trust.
    writeFileSync(privatePath, `${JSON.stringify({ ...publicPart, d: String(jwk.d), kid })}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new BreakGlassKeyFileError('KEY_FILE_EXISTS', `${privatePath} exists; a break-glass key is never overwritten (use another folder, or retire the old key from every access service first).`, { cause: e });
    throw new BreakGlassKeyFileError('KEY_FILE_UNREADABLE', `${privatePath} cannot be written: ${(e as Error).message}`, { cause: e });
  }
  const publicJwk = { ...publicPart, kid };
  writeFileSync(publicPath, `${JSON.stringify(publicJwk, null, 2)}\n`, { mode: 0o644 });
  return { privatePath, publicPath, publicJwk };
}

/** Reads the offline private key; refuses a file others could read, and anything but a P-256 private JWK. */
export function readBreakGlassPrivateKey(path: string): BreakGlassPrivateJwk {
  let text: string;
  try {
    const mode = statSync(path).mode;
    // Like ssh with an identity file: a key others can read may already be copied.
    if ((mode & 0o077) !== 0) throw new BreakGlassKeyFileError('KEY_FILE_EXPOSED', `${path} can be read by others (mode ${(mode & 0o777).toString(8)}); it must be 0600. Treat the key as exposed: make a new one and retire this one.`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof BreakGlassKeyFileError) throw e;
    throw new BreakGlassKeyFileError('KEY_FILE_UNREADABLE', `The break-glass key ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BreakGlassKeyFileError('KEY_FILE_INVALID', `${path} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const k = json as Partial<Record<keyof BreakGlassPrivateJwk, unknown>> | null;
  if (typeof k !== 'object' || k === null || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.x !== 'string' || !COORDINATE.test(k.x) || typeof k.y !== 'string' || !COORDINATE.test(k.y) || typeof k.d !== 'string' || !COORDINATE.test(k.d) || typeof k.kid !== 'string') {
    throw new BreakGlassKeyFileError('KEY_FILE_INVALID', `${path} is not a break-glass private key (a P-256 private JWK made by "dta-service break-glass keygen").`);
  }
  return { kty: 'EC', crv: 'P-256', x: k.x, y: k.y, d: k.d, kid: k.kid };
}

/** Reads the public keys the device trust service checks recorded notices against: a JWK, or an array of them. */
export function readBreakGlassPublicKeys(path: string): BreakGlassPublicJwk[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BreakGlassKeyFileError('KEY_FILE_UNREADABLE', `The break-glass public keys ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const list: unknown[] = Array.isArray(json) ? json : [json];
  return list.map((entry, i) => {
    const k = entry as Partial<Record<keyof BreakGlassPrivateJwk, unknown>> | null;
    if (typeof k !== 'object' || k === null || 'd' in k || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.x !== 'string' || !COORDINATE.test(k.x) || typeof k.y !== 'string' || !COORDINATE.test(k.y)) {
      throw new BreakGlassKeyFileError('KEY_FILE_INVALID', `Entry ${i} of ${path} is not a P-256 public JWK${k !== null && typeof k === 'object' && 'd' in k ? ' (it holds a private key: keep that offline, never in a configuration)' : ''}.`);
    }
    return { kty: 'EC', crv: 'P-256', x: k.x, y: k.y, ...(typeof k.kid === 'string' ? { kid: k.kid } : {}) };
  });
}

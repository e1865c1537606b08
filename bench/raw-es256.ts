// The two measuring tools both sides of the relying-party bench share: the floor every
// verification is compared with (one bare ES256 check in node:crypto) and the clock it is read on.
// Kept apart from relying-party-side.ts, which registers process handlers when it is loaded.
import { verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** One compact JWS checked against `key` with nothing around it: no parsing, no claims. */
export function rawVerify(jws: string, key: KeyObject): boolean {
  const dot = jws.lastIndexOf('.');
  return verify('sha256', Buffer.from(jws.slice(0, dot)), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.slice(dot + 1), 'base64url'));
}

// The machine is shared: wall time includes whatever else ran meanwhile, this process's CPU
// time (all its threads, the garbage collector's helpers too) does not.
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

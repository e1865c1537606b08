// `dta-service break-glass ...`: IT's tooling for emergency access (docs/emergency-access.md).
//   keygen  --out DIR                                   a key pair, made in advance; the private half is kept offline
//   declare --key FILE --tier full|limited --aud A[,B] --minutes N --reason TEXT --by NAME [--iss ISS]
//   end     --key FILE --jti J --by NAME [--reason TEXT] [--iss ISS]
// declare and end print the signed message on stdout (and nothing else there), for IT to hand
// to the access services; a human summary goes to stderr. Nothing here needs the device trust
// service: emergency access must work while it is down.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { BreakGlassNoticeClaims } from '../../common/break-glass.js';
import { BreakGlassError, MAX_BREAK_GLASS_SECONDS, signBreakGlassEnd, signBreakGlassNotice } from '../../common/break-glass.js';
import { BreakGlassKeyFileError, generateBreakGlassKeys, readBreakGlassPrivateKey } from './break-glass-key-files.js';

export const BREAK_GLASS_EXIT = { ok: 0, refused: 2 } as const;
/** The issuer named in notices unless IT gives its own (--iss). */
export const DEFAULT_BREAK_GLASS_ISSUER = 'dta-break-glass';
export const MAX_BREAK_GLASS_MINUTES = MAX_BREAK_GLASS_SECONDS / 60;

export interface BreakGlassIo {
  /** The signed message, alone on its line (stdout). */
  readonly out: (line: string) => void;
  /** What was done, for the person at the keyboard (stderr). */
  readonly err: (line: string) => void;
  readonly now: () => number;
}

const USAGE = [
  'usage: dta-service break-glass keygen --out DIR',
  `       dta-service break-glass declare --key FILE --tier full|limited --aud A[,B] --minutes N (1-${MAX_BREAK_GLASS_MINUTES}) --reason TEXT --by NAME [--iss ISS]`,
  '       dta-service break-glass end --key FILE --jti J --by NAME [--reason TEXT] [--iss ISS]',
].join('\n');

/** A refusal of the command line itself: nothing was signed. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function required(values: Record<string, string | undefined>, name: string): string {
  const value = values[name];
  if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value.trim();
}

function parseTier(text: string): BreakGlassNoticeClaims['tier'] {
  if (text === 'full' || text === 'limited') return text;
  throw new UsageError(`--tier must be "full" or "limited", not ${JSON.stringify(text)}`);
}

function parseMinutes(text: string): number {
  const minutes = /^[0-9]{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(minutes) || minutes < 1) throw new UsageError(`--minutes must be a whole number of minutes, not ${JSON.stringify(text)}`);
  if (minutes > MAX_BREAK_GLASS_MINUTES) throw new UsageError(`--minutes may be at most ${MAX_BREAK_GLASS_MINUTES} (${MAX_BREAK_GLASS_MINUTES / 60} hours); declare again when it ends if the emergency lasts longer`);
  return minutes;
}

function parseAudiences(text: string): string[] {
  const list = text.split(',').map((a) => a.trim());
  if (list.some((a) => a === '')) throw new UsageError(`--aud must name access services separated by commas, not ${JSON.stringify(text)}`);
  return [...new Set(list)];
}

async function declare(argv: readonly string[], io: BreakGlassIo): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { key: { type: 'string' }, tier: { type: 'string' }, aud: { type: 'string' }, minutes: { type: 'string' }, reason: { type: 'string' }, by: { type: 'string' }, iss: { type: 'string' } }, strict: true });
  const tier = parseTier(required(values, 'tier'));
  const aud = parseAudiences(required(values, 'aud'));
  const minutes = parseMinutes(required(values, 'minutes'));
  const reason = required(values, 'reason');
  const declaredBy = required(values, 'by');
  const key = readBreakGlassPrivateKey(required(values, 'key'));
  const iat = Math.floor(io.now() / 1000);
  const claims: BreakGlassNoticeClaims = { iss: values.iss ?? DEFAULT_BREAK_GLASS_ISSUER, jti: randomBytes(16).toString('base64url'), iat, nbf: iat, exp: iat + minutes * 60, tier, aud, reason, declaredBy };
  const notice = await signBreakGlassNotice(claims, key);
  io.out(notice);
  io.err(`break-glass ${claims.jti} declared by ${declaredBy}: tier ${tier} for ${aud.join(', ')} until ${new Date(claims.exp * 1000).toISOString()}. Hand the notice above to each of those access services; end it early with: dta-service break-glass end --key FILE --jti ${claims.jti} --by NAME`);
}

async function end(argv: readonly string[], io: BreakGlassIo): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { key: { type: 'string' }, jti: { type: 'string' }, by: { type: 'string' }, reason: { type: 'string' }, iss: { type: 'string' } }, strict: true });
  const jti = required(values, 'jti');
  const endedBy = required(values, 'by');
  const key = readBreakGlassPrivateKey(required(values, 'key'));
  const message = await signBreakGlassEnd({ iss: values.iss ?? DEFAULT_BREAK_GLASS_ISSUER, jti, iat: Math.floor(io.now() / 1000), endedBy, ...(values.reason !== undefined ? { reason: values.reason } : {}) }, key);
  io.out(message);
  io.err(`break-glass ${jti} ended by ${endedBy}. Hand the message above to every access service the notice named.`);
}

async function keygen(argv: readonly string[], io: BreakGlassIo): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { out: { type: 'string' } }, strict: true });
  const made = await generateBreakGlassKeys(required(values, 'out'));
  io.out(JSON.stringify(made.publicJwk));
  io.err(`private key: ${made.privatePath} (0600). Move it offline now (a safe, a sealed USB stick) and keep a second copy apart; it alone can declare emergency access.`);
  io.err(`public key:  ${made.publicPath} (kid ${made.publicJwk.kid}): add it to every access service's break-glass keys.`);
}

export async function runBreakGlass(argv: readonly string[], io: BreakGlassIo): Promise<number> {
  const [sub, ...rest] = argv;
  const commands = new Map([['keygen', keygen], ['declare', declare], ['end', end]]);
  const run = sub === undefined ? undefined : commands.get(sub);
  if (run === undefined) {
    io.err(USAGE);
    return BREAK_GLASS_EXIT.refused;
  }
  try {
    await run(rest, io);
    return BREAK_GLASS_EXIT.ok;
  } catch (e) {
    // Every expected refusal says what to do; nothing was signed or written.
    if (e instanceof UsageError) io.err(`dta-service break-glass ${sub ?? ''}: ${e.message}\n${USAGE}`);
    else if (e instanceof BreakGlassKeyFileError || e instanceof BreakGlassError) io.err(`dta-service break-glass ${sub ?? ''}: ${e.message} (${e.code})`);
    else if ((e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') io.err(`dta-service break-glass ${sub ?? ''}: ${(e as Error).message}\n${USAGE}`);
    else throw e;
    return BREAK_GLASS_EXIT.refused;
  }
}

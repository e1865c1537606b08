// IT's break-glass tooling: `dta-service break-glass keygen | declare | end`. The notices it
// signs verify offline with the public key it wrote; what it refuses, it refuses before
// signing anything, with a reason.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { BreakGlassPublicJwk } from '../../common/break-glass.js';
import { BreakGlassError, verifyBreakGlassEnd, verifyBreakGlassNotice } from '../../common/break-glass.js';
import { MAX_BREAK_GLASS_MINUTES, runBreakGlass } from '../../service/break-glass/break-glass-command.js';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, readBreakGlassPublicKeys } from '../../service/break-glass/break-glass-key-files.js';
import { runServiceCommand } from '../kit/service-process.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function cli(argv: string[], now = Date.now()): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runBreakGlass(argv, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => now });
  return { code, out, err: err.join('\n') };
}

async function keys(): Promise<{ dir: string; privatePath: string; publicJwk: BreakGlassPublicJwk }> {
  const dir = mkdtempSync(join(tmpdir(), 'dta-bg-'));
  dirs.push(dir);
  const made = await cli(['keygen', '--out', join(dir, 'keys')]);
  assert.equal(made.code, 0, made.err);
  const [publicJwk] = readBreakGlassPublicKeys(join(dir, 'keys', PUBLIC_KEY_FILE));
  assert.ok(publicJwk);
  return { dir, privatePath: join(dir, 'keys', PRIVATE_KEY_FILE), publicJwk };
}

const declareArgs = (key: string, extra: Record<string, string> = {}): string[] =>
  Object.entries({ key, tier: 'full', aud: 'patient-records,pacs', minutes: '60', reason: 'EHR outage, ward 3B', by: 'A. Admin (IT on call)', ...extra }).flatMap(([k, v]) => [`--${k}`, v]);

test('keygen writes a 0600 private key and a public JWK; a second keygen never overwrites the key', async () => {
  const { dir, privatePath, publicJwk } = await keys();
  assert.equal(statSync(privatePath).mode & 0o777, 0o600);
  assert.ok(!('d' in publicJwk), 'the public file holds no private part');
  const before = readFileSync(privatePath, 'utf8');
  const again = await cli(['keygen', '--out', join(dir, 'keys')]);
  assert.equal(again.code, 2);
  assert.match(again.err, /KEY_FILE_EXISTS/);
  assert.equal(readFileSync(privatePath, 'utf8'), before);
});

test('declare prints one notice that verifies offline with the public key: tier, services, span, reason and who', async () => {
  const { privatePath, publicJwk } = await keys();
  const now = Date.UTC(2026, 10, 30, 7, 0, 0);
  const { code, out, err } = await cli(['declare', ...declareArgs(privatePath)], now);
  assert.equal(code, 0, err);
  assert.equal(out.length, 1, 'stdout holds the notice alone');
  const { claims } = await verifyBreakGlassNotice(out[0] ?? '', [publicJwk], now + 1000);
  assert.deepEqual({ tier: claims.tier, aud: claims.aud, span: claims.exp - claims.nbf, reason: claims.reason, by: claims.declaredBy }, { tier: 'full', aud: ['patient-records', 'pacs'], span: 3600, reason: 'EHR outage, ward 3B', by: 'A. Admin (IT on call)' });
  assert.match(err, new RegExp(`end --key FILE --jti ${claims.jti}`));
  await assert.rejects(verifyBreakGlassNotice(out[0] ?? '', [publicJwk], now + 3601_000), (e: unknown) => e instanceof BreakGlassError && e.code === 'EXPIRED');
});

test('end prints a signed end naming the notice and who ended it', async () => {
  const { privatePath, publicJwk } = await keys();
  const { code, out, err } = await cli(['end', '--key', privatePath, '--jti', 'AAAAAAAAAAAAAAAAAAAAAA', '--by', 'B. Lead', '--reason', 'EHR back']);
  assert.equal(code, 0, err);
  const { claims } = await verifyBreakGlassEnd(out[0] ?? '', [publicJwk]);
  assert.deepEqual({ jti: claims.jti, by: claims.endedBy, reason: claims.reason }, { jti: 'AAAAAAAAAAAAAAAAAAAAAA', by: 'B. Lead', reason: 'EHR back' });
});

test('declare refuses, signing nothing: too long, a tier that grants nothing, no reason, no one named, a bad audience list', async () => {
  const { privatePath } = await keys();
  const cases: [Record<string, string>, RegExp][] = [
    [{ minutes: String(MAX_BREAK_GLASS_MINUTES + 1) }, /--minutes may be at most 720/],
    [{ minutes: '0' }, /--minutes must be a whole number/],
    [{ minutes: '1e3' }, /--minutes must be a whole number/],
    [{ tier: 'none' }, /--tier must be "full" or "limited"/],
    [{ reason: ' ' }, /--reason is required/],
    [{ by: '' }, /--by is required/],
    [{ aud: 'patient-records,' }, /--aud must name access services/],
  ];
  for (const [extra, message] of cases) {
    const { code, out, err } = await cli(['declare', ...declareArgs(privatePath, extra)]);
    assert.equal(code, 2, JSON.stringify(extra));
    assert.deepEqual(out, [], `nothing signed for ${JSON.stringify(extra)}`);
    assert.match(err, message);
  }
  const unknown = await cli(['declare', ...declareArgs(privatePath), '--forever']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /Unknown option '--forever'/);
});

test('a private key others can read is refused as exposed; a public key is no signing key', async () => {
  const { dir, privatePath } = await keys();
  chmodSync(privatePath, 0o640);
  const exposed = await cli(['declare', ...declareArgs(privatePath)]);
  assert.equal(exposed.code, 2);
  assert.deepEqual(exposed.out, []);
  assert.match(exposed.err, /KEY_FILE_EXPOSED/);
  const publicPath = join(dir, 'keys', PUBLIC_KEY_FILE);
  chmodSync(publicPath, 0o600);
  const notPrivate = await cli(['declare', ...declareArgs(publicPath)]);
  assert.equal(notPrivate.code, 2);
  assert.match(notPrivate.err, /KEY_FILE_INVALID/);
});

test('the service\'s command line runs it: dta-service break-glass declare prints only the notice on stdout', { timeout: 30_000 }, async () => {
  const { privatePath, publicJwk } = await keys();
  const { code, stdout, stderr } = await runServiceCommand(['break-glass', 'declare', ...declareArgs(privatePath, { minutes: '15', aud: 'patient-records' })]);
  assert.equal(code, 0, stderr);
  const { claims } = await verifyBreakGlassNotice(stdout.trim(), [publicJwk], Date.now());
  assert.equal(claims.exp - claims.nbf, 900);
  assert.match(stderr, /declared by A\. Admin/);
  const tooLong = await runServiceCommand(['break-glass', 'declare', ...declareArgs(privatePath, { minutes: '721' })]);
  assert.equal(tooLong.code, 2);
  assert.equal(tooLong.stdout, '');
});

// dta-authz's configuration file (every problem refused with its line) and its route table
// (exact over prefix, longest prefix, segment boundaries, decoded matching, case rules), and
// the command line that checks a file or refuses to start on a bad one.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAuthzConfig } from '../../service/authz/config.js';
import { AuthzConfigError } from '../../service/authz/errors.js';
import { createRouteTable } from '../../service/authz/route-table.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { spawnAuthz } from './authz-kit.js';

const VALID = `issuer: https://devicetrust.hospital.example
audience: pacs-viewer
listeners:
  - mode: nginx
    port: 9180
    externalOrigin: https://pacs.hospital.example
routes:
  - { path: /viewer/, match: prefix, tier: full }
  - { path: /schedule, match: exact, tier: limited }
`;

/** The problems of a refused text, as `line: message` pairs. */
function problems(text: string): { line: number | null; message: string }[] {
  try {
    parseAuthzConfig(text);
  } catch (e) {
    assert.ok(e instanceof AuthzConfigError);
    assert.equal(e.code, 'CONFIG_INVALID');
    return [...e.problems];
  }
  assert.fail('the configuration was accepted');
}

test('a valid configuration parses into its listeners and routes', () => {
  const config = parseAuthzConfig(VALID);
  assert.equal(config.listeners[0]?.mode, 'nginx');
  assert.equal(config.routes.length, 2);
});

test('each bad configuration is refused naming the line of the problem', () => {
  const cases: [string, number, RegExp][] = [
    [VALID.replace('mode: nginx', 'mode: haproxy'), 4, /mode: is not one of the allowed values/],
    [VALID.replace('    port: 9180\n', '    port: 9180\n    trustEverything: true\n'), 6, /trustEverything: Unexpected property/],
    [VALID.replace('externalOrigin: https://pacs.hospital.example', 'externalOrigin: https://pacs.hospital.example/app'), 6, /externalOrigin must be an http\(s\) origin/],
    [VALID.replace('    port: 9180\n', '    port: 9180\n    pathPrefix: /check\n'), 6, /pathPrefix applies to mode envoy only/],
    [VALID.replace('/schedule, match', '/schedule/../viewer, match'), 9, /not a canonical path/],
    [VALID.replace('/schedule, match', '/%7Eschedule, match'), 9, /write it decoded/],
    [`${VALID}  - { path: /schedule, match: exact, tier: full }\n`, 10, /listed twice/],
    [VALID.replace('tier: limited', 'tier: none'), 9, /tier: is not one of the allowed values/],
    [VALID.replace('issuer: https://devicetrust.hospital.example', 'issuer: devicetrust'), 1, /issuer must be an http\(s\) URL/],
    [VALID.replace('audience: pacs-viewer\n', 'audience: pacs-viewer\naudience: other\n'), 3, /unique|duplicate/i],
    [VALID.replace('  - { path: /schedule', '  - { path: /schedule,, '), 9, /./],
  ];
  for (const [text, line, message] of cases) {
    const found = problems(text);
    assert.ok(found.some((p) => p.line === line && message.test(p.message)), `expected line ${line} ${String(message)}: ${JSON.stringify(found)}`);
  }
  const missing = problems('issuer: https://devicetrust.hospital.example\n');
  assert.ok(missing.some((p) => /audience/.test(p.message)), JSON.stringify(missing));
});

test('a "billion laughs" configuration (aliases that expand past the limit) is a typed CONFIG_INVALID, not a crash', () => {
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array.from({ length: 10 }, () => `*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const found = problems(`${VALID}${laughs.join('\n')}\n`);
  assert.ok(found.some((p) => /alias/i.test(p.message)), JSON.stringify(found));
});

test('routes: exact beats prefix, the longest prefix wins, prefixes end at segment boundaries, and unmatched paths are refused unless configured', () => {
  const table = createRouteTable({
    routes: [
      { path: '/records', match: 'prefix', tier: 'full' },
      { path: '/records/schedule', match: 'prefix', tier: 'limited' },
      { path: '/records/schedule/private', match: 'exact', tier: 'full' },
      { path: '/public/', match: 'prefix', tier: 'limited' },
    ],
  });
  const tier = (path: string): string => {
    const d = table.decide(path);
    return 'refuse' in d ? 'refuse' : d.tier;
  };
  assert.equal(tier('/records'), 'full');
  assert.equal(tier('/records/42'), 'full');
  assert.equal(tier('/records/schedule'), 'limited');
  assert.equal(tier('/records/schedule/week'), 'limited');
  assert.equal(tier('/records/schedule/private'), 'full');
  assert.equal(tier('/recordsX'), 'refuse', 'a prefix ends at a segment boundary');
  assert.equal(tier('/public/'), 'limited');
  assert.equal(tier('/public'), 'refuse', 'a prefix written with "/" needs it');
  assert.equal(tier('/Records/42'), 'refuse', 'case-sensitive by default');
  assert.equal(tier('/records/schedul%65'), 'limited', 'matched decoded, as the proxy routes it');
  const lenient = createRouteTable({ routes: [{ path: '/Records', match: 'prefix', tier: 'full' }], pathCase: 'insensitive', unmatched: 'limited' });
  const d = lenient.decide('/RECORDS/42');
  assert.ok(!('refuse' in d) && d.tier === 'full');
  const other = lenient.decide('/elsewhere');
  assert.ok(!('refuse' in other) && other.tier === 'limited');
  assert.throws(() => table.decide('/records/%C3'), (e: unknown) => e instanceof VerifierDenial && e.code === 'PATH_AMBIGUOUS');
});

test('dta-authz check-config prints the problems with file and line and exits 2; a good file exits 0; a nonce secret others can read stops the start', async () => {
  const folder = tempFolderPath('dta-authz-config-');
  const bad = join(folder, 'bad.yaml');
  writeFileSync(bad, VALID.replace('mode: nginx', 'mode: haproxy'));
  const refused = spawnAuthz(['check-config', bad]);
  assert.equal(await refused.exited(), 2);
  assert.match(refused.stderr(), new RegExp(`CONFIG_INVALID: .*${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: /listeners/0/mode`));
  const good = join(folder, 'good.yaml');
  writeFileSync(good, VALID);
  const accepted = spawnAuthz(['check-config', good]);
  assert.equal(await accepted.exited(), 0, accepted.stderr());
  const secret = join(folder, 'secret');
  writeFileSync(secret, 'x'.repeat(40));
  chmodSync(secret, 0o644);
  const withSecret = join(folder, 'secret.yaml');
  writeFileSync(withSecret, `${VALID.replace('port: 9180', 'port: 0')}dpopNonce:\n  required: true\n  secretFile: ${secret}\n`);
  const loose = spawnAuthz(['--config', withSecret]);
  assert.equal(await loose.exited(), 2);
  assert.match(loose.stderr(), /SECRET_UNREADABLE: .*readable by other accounts/);
  const usage = spawnAuthz([]);
  assert.equal(await usage.exited(), 2);
  assert.match(usage.stderr(), /usage: dta-authz/);
});

// The tray's file log follows IT's logLevel (issue 16): the options come from the effective
// settings and are read again at every line, and the tray's composition root passes them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFileLog } from '../../../main/agent/agent-log.js';
import { fileLogOptions, logLevelOf } from '../../../main/config/file-log-level.js';
import { resolveConfig, type EffectiveConfig } from '../../../main/config/resolve-config.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

const managed = (values: Record<string, unknown>): EffectiveConfig => resolveConfig([{ source: 'policy.json', managed: true, values }]);

function events(dir: string): string[] {
  return readFileSync(join(dir, 'agent.log'), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { event: string }).event);
}

test('the level is IT\'s logLevel, and info where IT set none', () => {
  for (const level of ['error', 'warn', 'info', 'debug'] as const) assert.equal(logLevelOf(managed({ logLevel: level })), level);
  assert.equal(logLevelOf(managed({})), 'info');
  // A value the loader refused falls back to the default rather than through.
  const refused = managed({ logLevel: 'silent' });
  assert.ok(refused.problems.some((p) => p.key === 'logLevel'), 'the loader names the bad value');
  assert.equal(logLevelOf(refused), 'info');
  // A person's own file may set it too (it is not a security setting).
  assert.equal(logLevelOf(resolveConfig([{ source: 'settings.json', managed: false, values: { logLevel: 'warn' } }])), 'warn');
});

test('a file log with these options keeps only failures at warn, everything at info, and follows a change at once', () => {
  const dir = tempFolderPath('dta-tray-log-');
  let effective = managed({ logLevel: 'warn' });
  const log = createFileLog(dir, fileLogOptions(() => effective));
  log.info('dropped-at-warn');
  log.warn('kept-at-warn');
  effective = managed({ logLevel: 'info' });
  log.info('kept-at-info');
  effective = managed({ logLevel: 'error' });
  log.info('dropped-at-error');
  log.warn('kept-at-error');
  assert.deepEqual(events(dir), ['kept-at-warn', 'kept-at-info', 'kept-at-error']);
});

test('the tray passes its settings\' level to every file log it creates', () => {
  const app = readFileSync(join(ROOT, 'main', 'shell', 'app.ts'), 'utf8');
  const calls = [...app.matchAll(/createFileLog\(([^;]*)\);/g)].map((m) => m[1] ?? '');
  assert.ok(calls.length > 0, 'the tray writes a file log');
  for (const args of calls) assert.match(args, /fileLogOptions\(\(\) => effective\)/, `createFileLog(${args}) follows IT's logLevel`);
});

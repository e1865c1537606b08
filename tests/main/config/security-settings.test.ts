// Security settings come from IT's managed policy or the safe defaults, never from a person's
// own settings file: where IT set nothing, the file's serviceUrl, allowedOrigins, update feed,
// proxy … are ignored, each with a reason in the log IT reads. Presentation settings (logLevel)
// still apply from the file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MANAGED_SETTINGS } from '../../../common/managed-config.js';
import { createFileLog } from '../../../main/agent/agent-log.js';
import { LINUX_POLICY_DIR } from '../../../main/config/config-sources.js';
import { loadEffectiveConfig } from '../../../main/config/load-config.js';
import { logConfigProblems } from '../../../main/config/log-config-problems.js';

const PERSONAL = {
  serviceUrl: 'https://attacker.example',
  enrolmentSecret: 'not-from-it-123',
  allowedOrigins: ['https://attacker.example=ehr'],
  accessServices: ['ehr=https://attacker.example/api'],
  updateFeedUrl: 'https://attacker.example/feed',
  updateChannel: 'beta',
  updatePinnedVersion: '0.0.1',
  updateHold: true,
  updateMode: 'off',
  proxy: 'http://attacker.example:3128',
  outageGraceMinutes: 60,
  logLevel: 'debug',
} as const;

const SECURITY = Object.keys(PERSONAL).filter((k) => k !== 'logLevel');

test('a person\'s own settings file cannot set a security setting where IT set nothing; each refusal is logged with its reason', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dta-personal-'));
  try {
    const path = join(root, 'settings.json');
    writeFileSync(path, JSON.stringify(PERSONAL));
    const config = await loadEffectiveConfig('linux', { root, userSettingsPath: path });
    for (const key of SECURITY) {
      assert.equal(config.settings[key]?.source, 'default', `${key} is not taken from the person's file`);
      const problem = config.problems.find((p) => p.key === key);
      assert.ok(problem, `${key}: a reason is given`);
      assert.equal(problem.source, path);
      assert.match(problem.message, /only your organisation/i, problem.message);
    }
    assert.deepEqual(config.settings.logLevel, { value: 'debug', source: path, managed: false }, 'a presentation setting still applies');

    const logDir = join(root, 'logs');
    logConfigProblems(config, createFileLog(logDir));
    const lines = readFileSync(join(logDir, 'agent.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; event: string; key: string; source: string; message: string });
    const ignored = lines.filter((l) => l.event === 'config-problem').map((l) => l.key).sort();
    assert.deepEqual(ignored, [...SECURITY].sort());
    assert.ok(lines.every((l) => l.level === 'warn'));
    assert.ok(!readFileSync(join(logDir, 'agent.log'), 'utf8').includes('not-from-it-123'), 'a secret the person wrote is not logged');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the same settings from IT\'s managed policy apply', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dta-managed-'));
  try {
    mkdirSync(root + LINUX_POLICY_DIR, { recursive: true });
    writeFileSync(join(root + LINUX_POLICY_DIR, 'policy.json'), JSON.stringify(PERSONAL));
    const config = await loadEffectiveConfig('linux', { root });
    assert.deepEqual(config.problems, []);
    for (const key of SECURITY) assert.equal(config.settings[key]?.managed, true, key);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the list of security settings is kept in one place: the schema marks each managed-only', () => {
  const marked = MANAGED_SETTINGS.filter((s) => s.managedOnly === true).map((s) => s.key);
  for (const key of SECURITY) assert.ok(marked.includes(key), `${key} is marked managed-only`);
  assert.ok(!marked.includes('logLevel'));
});

// IT's logLevel decides what the agent writes to its log, and a change applies at once.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LogLevel } from '../../../main/agent/agent-log.js';
import { createFileLog } from '../../../main/agent/agent-log.js';

test('warn and error keep the failures only; info and debug keep everything; a change applies to the next line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-loglevel-'));
  try {
    let level: LogLevel = 'warn';
    const log = createFileLog(dir, { level: () => level });
    log.info('attested', { n: 1 });
    log.warn('offline', { n: 2 });
    level = 'error';
    log.info('attested', { n: 3 });
    log.warn('error', { n: 4 });
    level = 'debug';
    log.info('attested', { n: 5 });
    level = 'info';
    log.info('attested', { n: 6 });
    const written = readFileSync(join(dir, 'agent.log'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
    assert.deepEqual(written, [2, 4, 5, 6]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPosturePolicy } from '../../../common/posture.js';
import type { ProbeRecord } from '../../../common/posture.js';
import { runPosture } from '../../../main/posture/engine.js';
import type { CheckDefinition, ProbeSource } from '../../../main/posture/probe.js';
import { failedRecord } from '../../../main/posture/probe.js';
import { rec } from '../../kit/probe-records.js';

/** A probe source that answers each probe after a delay (or never). */
function delayedSource(delays: Record<string, number | 'never'>, stdout = 'ok'): ProbeSource {
  return {
    start(specs) {
      const settled: ProbeRecord[] = [];
      const promises = new Map(
        specs.map((s) => {
          const d = delays[s.id] ?? 0;
          const p =
            d === 'never'
              ? new Promise<ProbeRecord>(() => undefined)
              : new Promise<ProbeRecord>((resolve) =>
                  setTimeout(() => {
                    const r = rec(s.id, stdout);
                    settled.push(r);
                    resolve(r);
                  }, d),
                );
          return [s.id, p];
        }),
      );
      return { get: (id) => promises.get(id) ?? Promise.resolve(failedRecord({ kind: 'command', id, argv: [] }, 'NOT_RUN', '')), settled: () => [...settled] };
    },
  };
}

const passing = (id: CheckDefinition['id'], probe: string): CheckDefinition => ({
  id,
  probes: [{ kind: 'command', id: probe, argv: ['/bin/true'] }],
  judge: ({ records }) => ({ verdict: records.get(probe)?.stdout === 'ok' ? 'pass' : 'fail', reason: 'fine', remediation: 'none', facts: {} }),
});

const policy = { ...defaultPosturePolicy(), checkDeadlineMs: 200 };
const now = (): Date => new Date('2026-11-29T10:00:00Z');

test('a check whose probe hangs gives unknown at its deadline while the others pass', async () => {
  const started = performance.now();
  const { report } = await runPosture({
    platform: 'linux',
    checks: [passing('os-patch', 'a.fast'), passing('firewall', 'a.hang')],
    source: delayedSource({ 'a.fast': 5, 'a.hang': 'never' }),
    policy,
    now,
  });
  const elapsed = performance.now() - started;
  assert.equal(report.checks.find((c) => c.id === 'os-patch')?.verdict, 'pass');
  const hung = report.checks.find((c) => c.id === 'firewall');
  assert.equal(hung?.verdict, 'unknown');
  assert.match(hung?.reason ?? '', /did not finish within 200 ms/);
  assert.equal(report.verdict, 'unknown');
  assert.ok(elapsed < 1500, `finished in ${elapsed} ms`);
});

test('checks run concurrently, not one after another', async () => {
  const started = performance.now();
  await runPosture({
    platform: 'linux',
    checks: [passing('os-patch', 'a.one'), passing('firewall', 'a.two'), passing('screen-lock', 'a.three')],
    source: delayedSource({ 'a.one': 120, 'a.two': 120, 'a.three': 120 }),
    policy: { ...policy, checkDeadlineMs: 2000 },
    now,
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 300, `three 120 ms checks took ${elapsed} ms`);
});

test('a judge that throws gives unknown, and the engine does not throw', async () => {
  const broken: CheckDefinition = {
    id: 'disk-encryption',
    probes: [{ kind: 'command', id: 'a.broken', argv: ['/bin/true'] }],
    judge: () => {
      throw new Error('unexpected token');
    },
  };
  const { report } = await runPosture({ platform: 'linux', checks: [broken], source: delayedSource({}), policy, now });
  assert.equal(report.checks[0]?.verdict, 'unknown');
  assert.match(report.checks[0]?.reason ?? '', /could not be read \(unexpected token\)/);
  assert.equal(report.checks[0]?.remediation, 'contact-it');
});

test('the report carries the run time, the worst verdict and one result per check', async () => {
  const { report, records } = await runPosture({
    platform: 'darwin',
    checks: [passing('os-patch', 'a.one'), passing('firewall', 'a.two')],
    source: delayedSource({}),
    policy,
    now,
  });
  assert.equal(report.collectedAt, '2026-11-29T10:00:00.000Z');
  assert.equal(report.schema, 'dta-posture-report/1');
  assert.deepEqual(report.checks.map((c) => c.id), ['os-patch', 'firewall']);
  assert.equal(report.verdict, 'pass');
  assert.deepEqual(records.map((r) => r.id).sort(), ['a.one', 'a.two']);
});

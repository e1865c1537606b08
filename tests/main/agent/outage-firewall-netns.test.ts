// Local enforcement with the real firewall (issue 20, item 2): inside a network namespace the
// real service is stopped mid-use (SIGSTOP), the agent runs its real Linux probes, and the
// namespace's nftables ruleset is flushed. The agent's loopback endpoint must refuse proofs
// within 5 seconds, with nothing from the service (it is stopped). Needs root (ip netns).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { NetNamespace } from '../../kit/netns.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

test('service stopped, firewall turned off: the agent refuses proofs within 5 s on its own probes, and a bounded-mode access service stops serving the record', { timeout: 120_000 }, () => {
  const ns = NetNamespace.withWorkstationFirewall('dta-outage');
  try {
    const out = execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'main', 'agent', 'outage-firewall-run.ts')], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { startTier?: string; before?: { status: number }; offlineState?: string; during?: { status: number }; refusedAfterMs?: number; refusal?: { status: number; code: string | null }; blockedBy?: string[] | null; recordBefore?: number; recordDuring?: number; recordAfter?: number; recordRefusedAfterMs?: number };
    assert.equal(summary.startTier, 'full', out);
    assert.equal(summary.before?.status, 200, out);
    assert.equal(summary.offlineState, 'offline', out);
    assert.equal(summary.during?.status, 200, `proofs go on during the outage: ${out}`);
    assert.deepEqual(summary.refusal, { status: 403, code: 'POSTURE_CHANGED' }, out);
    assert.ok((summary.refusedAfterMs ?? Infinity) < 5000, `refused after ${summary.refusedAfterMs} ms`);
    assert.deepEqual(summary.blockedBy, ['firewall']);
    // End to end through an access service in bounded mode: the record is served during the
    // outage, and no longer once the device's firewall is off (no fresh proof, no record).
    assert.equal(summary.recordBefore, 200, out);
    assert.equal(summary.recordDuring, 200, `the record stays open during the outage: ${out}`);
    assert.equal(summary.recordAfter, 403, out);
    assert.ok((summary.recordRefusedAfterMs ?? Infinity) < 5000, `record refused after ${summary.recordRefusedAfterMs} ms`);
    process.stdout.write(`# real firewall, service SIGSTOPped: nft flush -> first refused proof after ${summary.refusedAfterMs} ms, record refused after ${summary.recordRefusedAfterMs} ms\n`);
  } finally {
    ns.delete();
  }
});

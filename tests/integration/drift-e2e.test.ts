// End to end on this machine (the main command, scripts/demo.ts): the real service, the
// system agent in its own process with its real probes, its tokens through the loopback
// endpoint, and the real firewall in a network namespace. Firewall on: the example
// access service accepts the device. `nft flush ruleset`: the time until it refuses.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { NetNamespace } from '../kit/netns.js';

const ROOT = join(import.meta.dirname, '..', '..');

test('turning the firewall off gets the device refused by the access service within 5 seconds', { timeout: 120_000 }, () => {
  const ns = NetNamespace.withWorkstationFirewall('dta-e2e');
  try {
    const out = execFileSync('ip', ['netns', 'exec', ns.name, 'bash', join(ROOT, 'scripts', 'with-keyring.sh'), process.execPath, '--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DTA_DEMO_NETNS: '1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { accepted?: boolean; tier?: string; refusedAfterMs?: number; refusal?: { error?: { code: string } }; newTier?: string; newTokenStatus?: number; firstTokenMs?: number; oldTokenStatus?: number; keyProtection?: string };
    assert.equal(summary.accepted, true, `first access accepted: ${out.slice(-500)}`);
    assert.equal(summary.tier, 'full');
    assert.equal(summary.keyProtection, 'software', 'the system agent holds a software key here (no TPM): a root-only file');
    assert.equal(summary.refusal?.error?.code, 'TIER_INSUFFICIENT');
    assert.equal(summary.oldTokenStatus, 1, 'the token from before the drift is invalid in the status list');
    assert.ok((summary.refusedAfterMs ?? Infinity) < 5000, `refused after ${summary.refusedAfterMs} ms`);
    assert.equal(summary.newTier, 'none');
    assert.equal(summary.newTokenStatus, 403);
    process.stdout.write(`# firewall off -> access refused in ${summary.refusedAfterMs} ms; first token after ${summary.firstTokenMs} ms\n`);
  } finally {
    ns.delete();
  }
});

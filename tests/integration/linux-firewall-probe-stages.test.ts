// The Linux firewall check starts only the programs whose output can change its verdict: run live,
// as the agent runs it, inside network namespaces holding real rulesets, it must come to the same
// verdict as before while starting fewer programs. Needs root: it fails, not skips, without it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { CheckResult } from '../../common/posture.js';
import type { RulesFormat } from '../kit/netns.js';
import { NetNamespace, WORKSTATION_FIREWALL } from '../kit/netns.js';
import { FIXTURES } from '../kit/probe-records.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULESETS = join(FIXTURES, 'linux', 'firewall-rulesets');
const run = promisify(execFile);

interface Traced {
  readonly result: CheckResult;
  /** Every program started, with its arguments, in the order started. */
  readonly programs: readonly string[];
}

/** A fresh namespace with these rules loaded, the check run inside it (commands and /proc/net alike); the namespace is deleted after. */
async function checkWith(rules: readonly [RulesFormat, string][]): Promise<Traced> {
  const ns = NetNamespace.create('dta-stages');
  try {
    await ns.execAsync(['ip', 'link', 'set', 'lo', 'up']);
    for (const [format, text] of rules) await ns.load(format, text);
    const { stdout } = await run('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'kit', 'run-firewall-check-traced.ts')], { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024 });
    return JSON.parse(stdout) as Traced;
  } finally {
    ns.delete();
  }
}

const ruleset = (file: string): string => readFileSync(join(RULESETS, file), 'utf8');
const started = (t: Traced): string[] => t.programs.map((p) => p.split(' ')[0] ?? p).sort();

test('an nftables firewall alone: nft is the only program started (no legacy table in /proc/net, IPv6 addresses from /proc/net/if_inet6); the verdict is pass', { timeout: 120_000 }, async () => {
  const t = await checkWith([['nft', WORKSTATION_FIREWALL]]);
  assert.equal(t.result.verdict, 'pass', t.result.reason);
  assert.deepEqual(started(t), ['/usr/sbin/nft'], t.programs.join('\n'));
  // Only loopback is up in this namespace, whatever addresses the machine has outside it.
  assert.equal((t.result.facts as { ipv6Addresses?: unknown }).ipv6Addresses, false);
});

test('ufw through iptables-nft: iptables-save and ip6tables-save still run for the xt matches, and the verdict is pass', { timeout: 120_000 }, async () => {
  const t = await checkWith([
    ['iptables', ruleset('ufw-default.iptables')],
    ['ip6tables', ruleset('ufw-default.ip6tables')],
  ]);
  assert.equal(t.result.verdict, 'pass', t.result.reason);
  assert.deepEqual((t.result.facts as { readFromIptablesSave?: unknown }).readFromIptablesSave, ['ip filter', 'ip6 filter']);
  assert.ok(started(t).includes('/usr/sbin/iptables-save') && started(t).includes('/usr/sbin/ip6tables-save'), t.programs.join('\n'));
  assert.ok(!started(t).includes('/usr/bin/firewall-cmd'), t.programs.join('\n'));
});

test('legacy iptables rules next to nftables are still found: unknown, naming the legacy table', { timeout: 120_000 }, async () => {
  const t = await checkWith([
    ['nft', ruleset('legacy-next-to-nft.nft')],
    ['iptables-legacy', ruleset('legacy-next-to-nft.legacy-iptables')],
  ]);
  assert.equal(t.result.verdict, 'unknown', t.result.reason);
  assert.match(t.result.reason, /legacy iptables \(ip filter \(legacy\)\)/);
  // /proc/net/ip_tables_names lists the filter table, so the IPv4 legacy save runs; no IPv6 legacy table was made.
  assert.deepEqual(started(t), ['/usr/sbin/iptables-legacy-save', '/usr/sbin/nft'], t.programs.join('\n'));
});

test('legacy iptables rules alone (no nftables table): the legacy save runs and its rules are judged; an open legacy policy fails', { timeout: 120_000 }, async () => {
  const t = await checkWith([['iptables-legacy', '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n']]);
  assert.equal(t.result.verdict, 'fail', t.result.reason);
  assert.equal((t.result.facts as { backend?: unknown }).backend, 'iptables-legacy');
  assert.ok(started(t).includes('/usr/sbin/iptables-legacy-save'), t.programs.join('\n'));
});

test('the test kit\'s runCheckInside reads /proc/net inside the namespace: legacy rules loaded there are found, and only its loopback has IPv6', { timeout: 120_000 }, async () => {
  const ns = NetNamespace.create('dta-inside');
  try {
    await ns.execAsync(['ip', 'link', 'set', 'lo', 'up']);
    await ns.load('nft', ruleset('legacy-next-to-nft.nft'));
    await ns.load('iptables-legacy', ruleset('legacy-next-to-nft.legacy-iptables'));
    const result = await ns.runCheckInside('firewall');
    assert.equal(result.verdict, 'unknown', result.reason);
    assert.deepEqual((result.facts as { legacyTables?: unknown }).legacyTables, ['ip filter (legacy)']);
    assert.equal((result.facts as { ipv6Addresses?: unknown }).ipv6Addresses, false);
  } finally {
    ns.delete();
  }
});

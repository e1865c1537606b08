// The Linux firewall's probes in stages (probe-stages.linux.ts) must never change a verdict: for
// every recorded real ruleset, and for the machines where nft or the legacy tools cannot run, the
// check judged on only the records a staged run makes (derived from the records it reads, as a
// replayed support bundle does) comes to the same outcome, facts included, as on every record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProbeRecord } from '../../../../common/posture.js';
import { linuxFirewallCheck } from '../../../../main/posture/checks/firewall/probe.linux.js';
import { recordsForCheck } from '../../../../main/posture/probe.js';
import { createReplayProbeSource } from '../../../../main/posture/replay-probe-source.js';
import { firewallRecords, GROUND_TRUTH_RULESETS } from '../../../kit/firewall-fixtures.js';
import { fileError, fileRec, judge, missingTool, rec } from '../../../kit/probe-records.js';

/** The records a staged live run would have made, given what each program would print. */
async function staged(all: readonly ProbeRecord[]): Promise<ProbeRecord[]> {
  const run = createReplayProbeSource(all).start(linuxFirewallCheck.probes, 10_000);
  return (await recordsForCheck(run, linuxFirewallCheck.probes)).filter((r) => r.error?.code !== 'NOT_RECORDED');
}

async function sameOutcome(name: string, all: readonly ProbeRecord[]): Promise<readonly string[]> {
  const some = await staged(all);
  assert.deepEqual(judge(linuxFirewallCheck, some), judge(linuxFirewallCheck, [...all]), name);
  return some.map((r) => r.id);
}

const denied = (id: string): ProbeRecord => rec(id, '', { exitCode: 1, stderr: 'Error: Operation not permitted' });

const IP_NAMES = '/proc/net/ip_tables_names';
const IP6_NAMES = '/proc/net/ip6_tables_names';
const IF_INET6 = '/proc/net/if_inet6';
/** The legacy table names of both IP versions read as one state: FILE_MISSING (no x_tables module), ACCESS_DENIED, or else these contents. */
const legacyNames = (state: string): ProbeRecord[] =>
  state === 'FILE_MISSING' || state === 'ACCESS_DENIED'
    ? [fileError('linux.ip-tables-names', IP_NAMES, state), fileError('linux.ip6-tables-names', IP6_NAMES, state)]
    : [fileRec('linux.ip-tables-names', IP_NAMES, state), fileRec('linux.ip6-tables-names', IP6_NAMES, state)];
/** The programs a staged run starts (file probes start none). */
const programsOf = (some: readonly ProbeRecord[]): string[] => some.filter((r) => r.kind === 'command').map((r) => r.id);

test('every recorded real ruleset: the staged records give the outcome every record gives', async () => {
  for (const ruleset of GROUND_TRUTH_RULESETS) await sameOutcome(ruleset, firewallRecords(ruleset));
});

test('nftables alone: iptables-save, ip6tables-save and firewall-cmd are not run', async () => {
  const ids = await sameOutcome('arch-default', firewallRecords('arch-default'));
  assert.ok(!ids.includes('linux.iptables-save') && !ids.includes('linux.ip6tables-save') && !ids.includes('linux.firewalld-state'), ids.join(', '));
});

test('iptables-nft tables of one IP version: only that version\'s iptables-save runs', async () => {
  const ids = await sameOutcome('docker', firewallRecords('docker'));
  assert.ok(ids.includes('linux.iptables-save') && !ids.includes('linux.ip6tables-save'), ids.join(', '));
});

test('no root: iptables-save and firewall-cmd run, and firewalld running is still not a pass', async () => {
  // The legacy table names are readable by root alone (mode 0440), so the legacy saves run and refuse as before.
  const all = [
    denied('linux.nft-ruleset'),
    ...legacyNames('ACCESS_DENIED'),
    denied('linux.iptables-save'),
    denied('linux.ip6tables-save'),
    denied('linux.iptables-legacy-save'),
    denied('linux.ip6tables-legacy-save'),
    fileRec('linux.if-inet6', IF_INET6, ''),
    rec('linux.ipv6-addresses', ''),
    rec('linux.firewalld-state', 'running\n'),
  ];
  const ids = await sameOutcome('no root', all);
  assert.ok(ids.includes('linux.iptables-save') && ids.includes('linux.firewalld-state'), ids.join(', '));
  assert.ok(ids.includes('linux.iptables-legacy-save') && ids.includes('linux.ip6tables-legacy-save'), ids.join(', '));
});

test('nftables alone: nft is the only program started; the legacy table names and the IPv6 addresses are read from /proc/net', async () => {
  const ids = await sameOutcome('arch-default', firewallRecords('arch-default'));
  assert.deepEqual(programsOf(await staged(firewallRecords('arch-default'))), ['linux.nft-ruleset'], ids.join(', '));
  assert.ok(ids.includes('linux.ip-tables-names') && ids.includes('linux.ip6-tables-names') && ids.includes('linux.if-inet6'), ids.join(', '));
});

test('no legacy table names file (x_tables not loaded) or an empty one: no legacy save runs, and the outcome is that of a legacy save that printed nothing', async () => {
  for (const state of ['FILE_MISSING', ''] as const) {
    for (const ruleset of GROUND_TRUTH_RULESETS.filter((r) => r !== 'legacy-next-to-nft')) {
      // The world these records describe: no legacy tables, so each legacy save printed nothing.
      const all = firewallRecords(ruleset, [...legacyNames(state), rec('linux.iptables-legacy-save', ''), rec('linux.ip6tables-legacy-save', '')]);
      const ids = await sameOutcome(`${ruleset}, names ${state || 'empty'}`, all);
      assert.ok(!ids.includes('linux.iptables-legacy-save') && !ids.includes('linux.ip6tables-legacy-save'), `${ruleset}: ${ids.join(', ')}`);
    }
  }
});

test('no legacy table names file and no legacy save installed (iptables before 1.8): neither the legacy saves nor iptables-save run, and the outcome is the same', async () => {
  for (const ruleset of ['arch-default', 'debian-default', 'firewalld-public'] as const) {
    const all = firewallRecords(ruleset, [...legacyNames('FILE_MISSING'), missingTool('linux.iptables-legacy-save'), missingTool('linux.ip6tables-legacy-save'), rec('linux.iptables-save', ''), rec('linux.ip6tables-save', '')]);
    const ids = await sameOutcome(`${ruleset}, no x_tables, no legacy tools`, all);
    assert.deepEqual(programsOf(await staged(all)), ['linux.nft-ruleset'], `${ruleset}: ${ids.join(', ')}`);
  }
});

test('legacy table names that cannot be read: both legacy saves run, as before, and their rules are judged', async () => {
  const all = firewallRecords('legacy-next-to-nft', legacyNames('ACCESS_DENIED'));
  const ids = await sameOutcome('names unreadable', all);
  assert.ok(ids.includes('linux.iptables-legacy-save') && ids.includes('linux.ip6tables-legacy-save'), ids.join(', '));
  assert.equal(judge(linuxFirewallCheck, all).verdict, 'unknown');
});

test('legacy table names listing a table: the legacy saves run and their rules make the verdict unknown', async () => {
  const all = firewallRecords('legacy-next-to-nft');
  assert.match(all.find((r) => r.id === 'linux.ip-tables-names')?.stdout ?? '', /filter/, 'the captured names of the legacy ruleset');
  const ids = await sameOutcome('legacy-next-to-nft', all);
  assert.ok(ids.includes('linux.iptables-legacy-save') && ids.includes('linux.ip6tables-legacy-save'), ids.join(', '));
  const out = judge(linuxFirewallCheck, all);
  assert.equal(out.verdict, 'unknown');
  assert.deepEqual(out.facts.legacyTables, ['ip filter (legacy)', 'ip6 filter (legacy)']);
});

test('an empty legacy table listed (iptables-legacy -L made it): the legacy save runs, and its empty tables do not count', async () => {
  const all = firewallRecords('arch-default', [...legacyNames('filter\n'), rec('linux.iptables-legacy-save', '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')]);
  const ids = await sameOutcome('empty legacy filter', all);
  assert.ok(ids.includes('linux.iptables-legacy-save'), ids.join(', '));
  assert.equal(judge(linuxFirewallCheck, all).verdict, 'pass');
});

test('/proc/net/if_inet6 gives the IPv6 addresses: ip is not started, and the facts are those ip\'s list gives', async () => {
  const onlyLoopback = '00000000000000000000000000000001 01 80 10 80       lo\n';
  const ipLoopback = '1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n';
  for (const [name, file, ip] of [
    ['loopback only', fileRec('linux.if-inet6', IF_INET6, onlyLoopback), rec('linux.ipv6-addresses', ipLoopback)],
    ['IPv6 not in the kernel', fileError('linux.if-inet6', IF_INET6, 'FILE_MISSING'), rec('linux.ipv6-addresses', '')],
  ] as const) {
    const all = firewallRecords('docker', [file, ip]);
    const ids = await sameOutcome(name, all);
    assert.ok(!ids.includes('linux.ipv6-addresses'), `${name}: ${ids.join(', ')}`);
    const out = judge(linuxFirewallCheck, all);
    assert.equal(out.facts.ipv6Addresses, false, name);
    assert.equal((out.facts.ipv6 as { kind: string }).kind, 'not judged', name);
  }
  const veth = judge(linuxFirewallCheck, firewallRecords('docker'));
  assert.equal(veth.facts.ipv6Addresses, true);
  assert.equal((veth.facts.ipv6 as { kind: string }).kind, 'open');
});

test('/proc/net/if_inet6 unreadable or not in the kernel\'s format: ip -6 address show runs, as before', async () => {
  for (const [name, file] of [
    ['unreadable', fileError('linux.if-inet6', IF_INET6, 'ACCESS_DENIED')],
    ['not the kernel format', fileRec('linux.if-inet6', IF_INET6, 'fe80::1 eth0\n')],
  ] as const) {
    const all = firewallRecords('docker', [file]);
    const ids = await sameOutcome(name, all);
    assert.ok(ids.includes('linux.ipv6-addresses'), `${name}: ${ids.join(', ')}`);
    assert.equal(judge(linuxFirewallCheck, all).facts.ipv6Addresses, true, name);
  }
});

test('no nft, legacy iptables only (iptables before 1.8: iptables-save is the legacy one, no iptables-legacy-save)', async () => {
  const legacyText = firewallRecords('legacy-next-to-nft').find((r) => r.id === 'linux.iptables-legacy-save')?.stdout ?? '';
  const all = firewallRecords('legacy-next-to-nft', [missingTool('linux.nft-ruleset'), missingTool('linux.iptables-legacy-save'), missingTool('linux.ip6tables-legacy-save'), rec('linux.iptables-save', legacyText)]);
  const ids = await sameOutcome('legacy only', all);
  assert.ok(ids.includes('linux.iptables-save'), ids.join(', '));
});

test('nft runs but no legacy save is installed: iptables-save runs, since it may be the only view of legacy tables', async () => {
  const legacyText = firewallRecords('legacy-next-to-nft').find((r) => r.id === 'linux.iptables-legacy-save')?.stdout ?? '';
  const all = firewallRecords('legacy-next-to-nft', [missingTool('linux.iptables-legacy-save'), missingTool('linux.ip6tables-legacy-save'), rec('linux.iptables-save', legacyText)]);
  const ids = await sameOutcome('nft with legacy iptables-save', all);
  assert.ok(ids.includes('linux.iptables-save'), ids.join(', '));
  assert.deepEqual(judge(linuxFirewallCheck, all).facts.legacyTables, ['ip filter (legacy)']);
});

test('an nft answer that is not its JSON: every program the judge could fall back on runs, and the judge reports the same parser error', async () => {
  const all = firewallRecords('arch-default', [rec('linux.nft-ruleset', 'not json')]);
  const some = await staged(all);
  const ids = some.map((r) => r.id);
  assert.ok(ids.includes('linux.iptables-save') && ids.includes('linux.ip6tables-save'), ids.join(', '));
  const thrown = (records: ProbeRecord[]): string => {
    try {
      judge(linuxFirewallCheck, records);
    } catch (e) {
      return String(e);
    }
    return 'no error';
  };
  assert.match(thrown(some), /JSON/);
  assert.equal(thrown(some), thrown(all));
});

// Ground truth for the Linux firewall check: each real ruleset (tests/fixtures/linux/firewall-rulesets,
// sources in tests/fixtures/linux/SOURCES.md) is loaded in a network namespace the way its tool
// loads it, a second namespace connects over a veth link (IPv4 and IPv6) to a port that a program
// listens on and no rule opens, and the check's verdict must agree with what the connection did:
// connected → `fail` (never `pass`), refused or unanswered → `pass`, and `unknown` only for the
// rulesets docs/probes.md names. The captured probe outputs are the unit tests' fixtures; with
// DTA_CAPTURE_FIREWALL_FIXTURES=1 this test writes them anew. Needs root: it fails, not skips, without it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import type { CheckResult } from '../../common/posture.js';
import { linuxFirewallCheck } from '../../main/posture/checks/firewall/probe.linux.js';
import { LINUX_FIREWALL_PROBES } from '../../main/posture/checks/firewall/probe.linux.js';
import { firewallRecords, fixturePath, GROUND_TRUTH, GROUND_TRUTH_RULESETS, IPV6_ADDRESS_PROBES, IPV6_ADDRESSES_STATE, PER_RULESET_PROBES } from '../kit/firewall-fixtures.js';
import type { GroundTruthRuleset } from '../kit/firewall-fixtures.js';
import type { ConnectOutcome, RulesFormat } from '../kit/netns.js';
import { linkedPair } from '../kit/netns.js';
import { FIXTURES, judge } from '../kit/probe-records.js';

const RULESETS = join(FIXTURES, 'linux', 'firewall-rulesets');
const PORT = 8765; // no ruleset here opens it
const CAPTURE = process.env.DTA_CAPTURE_FIREWALL_FIXTURES === '1';
const PARALLEL = 5;

const EXPECTED = GROUND_TRUTH;

const FORMATS: readonly [string, RulesFormat][] = [
  ['nft', 'nft'],
  ['iptables', 'iptables'],
  ['ip6tables', 'ip6tables'],
  ['legacy-iptables', 'iptables-legacy'],
  ['legacy-ip6tables', 'ip6tables-legacy'],
];

interface Observed {
  readonly ruleset: GroundTruthRuleset;
  readonly ipv4: ConnectOutcome;
  readonly ipv6: ConnectOutcome;
  readonly result: CheckResult;
}

async function observe(ruleset: GroundTruthRuleset, index: number): Promise<Observed> {
  const pair = await linkedPair('dta-gt', index);
  try {
    for (const [ext, format] of FORMATS) {
      const file = join(RULESETS, `${ruleset}.${ext}`);
      if (existsSync(file)) await pair.server.load(format, readFileSync(file, 'utf8'));
    }
    const listener = await pair.server.listen(PORT);
    try {
      const [ipv4 = 'unreachable', ipv6 = 'unreachable'] = await pair.client.connect([pair.serverIpv4, pair.serverIpv6], PORT);
      const result = await pair.server.runCheckInside('firewall');
      if (CAPTURE) await capture(ruleset, pair.server.execAsync.bind(pair.server));
      return { ruleset, ipv4, ipv6, result };
    } finally {
      listener.stop();
    }
  } finally {
    pair.delete();
  }
}

async function capture(ruleset: string, exec: (argv: readonly string[]) => Promise<string>): Promise<void> {
  for (const probe of LINUX_FIREWALL_PROBES) {
    const perRuleset = (PER_RULESET_PROBES as readonly string[]).includes(probe.id);
    if (!perRuleset && !(IPV6_ADDRESS_PROBES as readonly string[]).includes(probe.id)) continue;
    // A file of /proc/net is the namespace's own only when read from inside it.
    const out = await exec(probe.kind === 'file' ? ['cat', probe.path] : probe.argv);
    const path = fixturePath(probe.id, perRuleset ? ruleset : IPV6_ADDRESSES_STATE);
    if (out === '' && perRuleset) continue; // no file: the probe printed nothing
    mkdirSync(dirname(path), { recursive: true });
    // The veth's name and addresses differ per run; the fixture keeps those of the first.
    if (!perRuleset && existsSync(path)) continue;
    writeFileSync(path, out);
  }
}

async function observeAll(): Promise<Observed[]> {
  const queue = GROUND_TRUTH_RULESETS.map((r, i) => [r, i] as const);
  const out: Observed[] = [];
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) out.push(await observe(next[0], next[1]));
    }),
  );
  return out;
}

test('every real ruleset: the verdict agrees with whether a new connection got through', { timeout: 120_000 }, async () => {
  const started = Date.now();
  const observed = await observeAll();
  const table = observed.map((o) => `${o.ruleset}: IPv4 ${o.ipv4}, IPv6 ${o.ipv6} → ${o.result.verdict} (${o.result.reason})`).join('\n');
  for (const o of observed) {
    const connected = o.ipv4 === 'connected' || o.ipv6 === 'connected';
    const facts = o.result.facts as { ipv4?: { kind: string }; ipv6?: { kind: string } };
    if (connected) {
      assert.equal(o.result.verdict, 'fail', `${o.ruleset}: a connection got through, so the verdict must be fail\n${table}`);
      for (const [family, outcome] of [['ipv4', o.ipv4], ['ipv6', o.ipv6]] as const) {
        if (outcome === 'connected') assert.equal(facts[family]?.kind, 'open', `${o.ruleset}: ${family} connected but was judged ${String(facts[family]?.kind)}\n${table}`);
      }
    } else {
      assert.notEqual(o.result.verdict, 'fail', `${o.ruleset}: nothing got through, yet the verdict is fail\n${table}`);
      if (o.result.verdict !== 'pass') assert.equal(EXPECTED.get(o.ruleset), 'unknown', `${o.ruleset}: nothing got through; unknown is only for the documented rulesets\n${table}`);
    }
    for (const family of ['ipv4', 'ipv6'] as const) {
      const outcome = family === 'ipv4' ? o.ipv4 : o.ipv6;
      if (outcome !== 'connected') assert.notEqual(facts[family]?.kind, 'open', `${o.ruleset}: ${family} was judged open but the connection ${outcome}\n${table}`);
    }
    assert.equal(o.result.verdict, EXPECTED.get(o.ruleset), `${o.ruleset}\n${table}`);
  }
  assert.ok(observed.length >= 10, 'at least ten real rulesets');
  console.log(`${table}\n(${String(Date.now() - started)} ms)`);
});

test('each saved fixture, replayed without root, gives the verdict the live check gave in its namespace', () => {
  for (const ruleset of GROUND_TRUTH_RULESETS) {
    assert.ok(existsSync(fixturePath('linux.nft-ruleset', ruleset)), `${ruleset}: no captured nft ruleset (run this test with DTA_CAPTURE_FIREWALL_FIXTURES=1)`);
    const replayed = judge(linuxFirewallCheck, firewallRecords(ruleset));
    assert.equal(replayed.verdict, EXPECTED.get(ruleset), `${ruleset}: ${replayed.reason}`);
  }
});

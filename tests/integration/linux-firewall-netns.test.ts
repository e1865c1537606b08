// The Linux firewall check against a real nftables firewall, in a network namespace made
// for the test. Needs root (CI runs as root): it fails, not skips, without it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NetNamespace } from '../kit/netns.js';

let ns: NetNamespace;
before(() => {
  ns = NetNamespace.create('dta-fw');
});
after(() => ns.delete());

const INBOUND_DROP = `
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport 22 accept
  }
}`;

test('an nftables inbound chain that drops by default passes', () => {
  ns.nft(INBOUND_DROP);
  const result = ns.runCheck('firewall');
  assert.equal(result.verdict, 'pass', result.reason);
  assert.equal(result.facts.backend, 'nftables');
  assert.deepEqual(result.facts.inputChains, ['inet filter input (input, priority 0, policy drop)']);
});

test('after `nft flush ruleset` the same check fails', () => {
  ns.nft(INBOUND_DROP);
  ns.exec(['nft', 'flush', 'ruleset']);
  const result = ns.runCheck('firewall');
  assert.equal(result.verdict, 'fail', result.reason);
  assert.equal(result.remediation, 'firewall.enable-linux');
  assert.match(result.reason, /lets other computers open new connections/);
});

test('an accept-policy input chain that rejects what it does not allow passes (the firewalld shape)', () => {
  ns.exec(['nft', 'flush', 'ruleset']);
  ns.nft(`
table inet fw {
  chain filter_INPUT {
    type filter hook input priority 10; policy accept;
    ct state established,related accept
    iifname "lo" accept
    reject with icmpx admin-prohibited
  }
}`);
  const result = ns.runCheck('firewall');
  assert.equal(result.verdict, 'pass', result.reason);
});

test('an input chain that only accepts fails', () => {
  ns.exec(['nft', 'flush', 'ruleset']);
  ns.nft(`
table ip filter {
  chain INPUT {
    type filter hook input priority 0; policy accept;
    tcp dport 22 accept
  }
}`);
  const result = ns.runCheck('firewall');
  assert.equal(result.verdict, 'fail', result.reason);
});

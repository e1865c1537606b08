// The macOS application firewall and Windows Defender Firewall against recorded outputs
// (tests/fixtures/darwin/mac.firewall, mac.stealth; tests/fixtures/win32/win.firewall).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { darwinFirewallCheck, parseGlobalState, parseStealthMode } from '../../../../main/posture/checks/firewall/probe.darwin.js';
import { parseWindowsFirewall, windowsFirewallCheck } from '../../../../main/posture/checks/firewall/probe.win32.js';
import { fixture, judge, rec } from '../../../kit/probe-records.js';

const mac = (probe: string, state: string) => rec(probe, fixture('darwin', probe, state));

test('socketfilterfw on macOS 13 to 26: every recorded wording is judged by its state number', () => {
  const expected = new Map([
    ['enabled', 1],
    ['disabled', 0],
    ['block-all-legacy', 2],
    ['block-all', 2],
  ]);
  for (const [state, number] of expected) {
    assert.equal(parseGlobalState(fixture('darwin', 'mac.firewall', state)), number, state);
    const out = judge(darwinFirewallCheck, [mac('mac.firewall', state), mac('mac.stealth', 'off')]);
    assert.equal(out.verdict, number === 0 ? 'fail' : 'pass', state);
  }
  for (const [state, on] of new Map([['on', true], ['on-legacy', true], ['off', false], ['off-legacy', false]])) {
    assert.equal(parseStealthMode(fixture('darwin', 'mac.stealth', state)), on, state);
  }
});

test('a state number socketfilterfw never printed is not read as "enabled" from the words around it', () => {
  assert.throws(() => parseGlobalState('Firewall is enabled. (State = 3)\n'), /unknown socketfilterfw global state 3/);
  assert.throws(() => parseGlobalState('Firewall is enabled. (State = 10)\n'), /unknown socketfilterfw global state 10/);
});

test('an unreadable stealth mode does not hide the firewall state', () => {
  const out = judge(darwinFirewallCheck, [mac('mac.firewall', 'enabled'), rec('mac.stealth', '', { exitCode: 1, stderr: 'boom' })]);
  assert.equal(out.verdict, 'pass');
  assert.equal(out.facts.stealthMode, null);
});

test('Windows: a network category that is no NetworkCategory name makes no profile "active" (nor reaches Object.prototype)', () => {
  const text = fixture('win32', 'win.firewall', 'all-off').replace('NetworkCategory : DomainAuthenticated', 'NetworkCategory : constructor');
  assert.match(text, /constructor/);
  assert.deepEqual(parseWindowsFirewall(text).activeProfiles, []);
  const out = judge(windowsFirewallCheck, [rec('win.firewall', text, { kind: 'powershell' })]);
  assert.equal(out.verdict, 'fail', 'every profile is judged, as with no network, and all are off');
});

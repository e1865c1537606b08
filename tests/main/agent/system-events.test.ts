import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkFingerprint, watchSystemEvents } from '../../../main/agent/system-events.js';

test('a timer that fires far too late is a wake from sleep; new interface addresses are a network change', async () => {
  let clock = 0;
  let ifaces = 'eth0:10.0.0.5';
  const events: string[] = [];
  const stop = watchSystemEvents({ onWake: () => events.push('wake'), onNetworkChange: () => events.push('network'), intervalMs: 20, sleepThresholdMs: 1000, now: () => clock, interfaces: () => ifaces });
  try {
    clock += 20;
    await new Promise((r) => setTimeout(r, 35));
    assert.deepEqual(events, [], 'an on-time tick is nothing');
    clock += 60_000; // the laptop lid was closed for a minute
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(events, ['wake']);
    ifaces = 'wlan0:192.0.2.7';
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(events, ['wake', 'network']);
  } finally {
    stop();
  }
});

test('the network fingerprint of this machine is stable between two reads', () => {
  assert.equal(networkFingerprint(), networkFingerprint());
});

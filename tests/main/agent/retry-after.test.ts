// Reading a service's Retry-After (seconds or an HTTP date) and the wait the agent makes of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay } from '../../../main/agent/backoff.js';

const NOW = Date.parse('2026-11-30T10:00:00Z');

test('Retry-After in seconds or as an HTTP date is read as milliseconds from now', () => {
  assert.equal(parseRetryAfter('5', NOW), 5000);
  assert.equal(parseRetryAfter(' 120 ', NOW), 120_000);
  assert.equal(parseRetryAfter('Mon, 30 Nov 2026 10:00:30 GMT', NOW), 30_000);
});

test('an absent, unreadable, zero or past Retry-After is none', () => {
  for (const value of [null, '', '0', '-5', '1.5', '5s', 'soon', 'Mon, 30 Nov 2026 09:59:00 GMT', '2026-11-30T10:00:30Z', 'Mon, 30 Nov 2026 25:00:00 GMT']) {
    assert.equal(parseRetryAfter(value, NOW), null, String(value));
  }
});

test('a Retry-After beyond an hour is taken as an hour', () => {
  assert.equal(parseRetryAfter('86400', NOW), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter('Tue, 01 Dec 2026 10:00:00 GMT', NOW), MAX_RETRY_AFTER_MS);
});

test('the wait is at least the Retry-After, spread over half as long again, and never below the backoff', () => {
  const policy = { initialMs: 1000, maxMs: 60_000 };
  assert.equal(retryDelay(0, policy, 10_000, () => 0), 10_000);
  assert.equal(retryDelay(0, policy, 10_000, () => 0.999_999), 14_999);
  // A short Retry-After is still spread over a second.
  assert.equal(retryDelay(0, policy, 1000, () => 0.5), 1500);
  // The backoff after many failures is longer than the service asked for: the backoff wins.
  assert.equal(retryDelay(10, policy, 2000, () => 0.9), 54_000);
  assert.equal(retryDelay(3, policy, null, () => 0.5), 4000);
});

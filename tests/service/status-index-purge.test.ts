// Issuing a token takes a free status list index in one INSERT; indices whose hold ended are
// let go by the hourly purge instead of by each issuance. The purge frees exactly those: an
// index a token may still be accepted with (live, or expired within the hold) stays held.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { NewToken } from '../../service/status-index.js';
import { insertTokenWithStatusIndex, STATUS_INDEX_HOLD_MS } from '../../service/status-index.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const newToken = (expiresAt: number): NewToken => ({ jti: randomBytes(16).toString('base64url'), device_id: 'test-device', tier: 'full', issued_at: expiresAt - 300_000, expires_at: expiresAt, status: 0, attestation_id: 'test' });

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

test('the purge lets go of the indices whose hold ended and keeps every index still held', async () => {
  const db = svc.running.db.kysely;
  const t = Date.now();
  const live = await insertTokenWithStatusIndex(db, newToken(t + 300_000), { now: t, draw: () => 501 });
  const held = await insertTokenWithStatusIndex(db, newToken(t - STATUS_INDEX_HOLD_MS + 60_000), { now: t, draw: () => 502 });
  const done = await insertTokenWithStatusIndex(db, newToken(t - STATUS_INDEX_HOLD_MS - 60_000), { now: t, draw: () => 503 });
  await svc.running.service.purgeExpired();
  const rows = await db.selectFrom('tokens').select(['expires_at', 'status_idx']).where('device_id', '=', 'test-device').orderBy('expires_at', 'desc').execute();
  assert.deepEqual(rows.map((r) => r.status_idx === null ? null : Number(r.status_idx)), [live, held, null], `held: ${live}, ${held}; let go: ${done}`);
});

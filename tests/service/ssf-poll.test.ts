// Shared Signals by poll (RFC 8936): the receiver takes SETs from the answer, verifies them
// against the service's JWKS with jose, and acknowledges them; an unacknowledged SET comes again
// with the same jti, an acknowledged or reported one never; an empty poll waits (bounded) for the
// next event.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DEVICE_COMPLIANCE_CHANGE, POLL_METHOD } from '../../service/ssf/ssf-constants.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { SsfTestService } from '../kit/ssf-service.js';
import { startSsfService } from '../kit/ssf-service.js';

const AUDIENCE = 'https://idp.example.org';

interface PollAnswer {
  sets: Record<string, string>;
  moreAvailable: boolean;
}

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`Shared Signals poll on ${database}`, () => {
    let svc: SsfTestService;
    let streamId: string;
    let token: string;
    let device: FakeDevice;
    let verifyKeys: ReturnType<typeof createRemoteJWKSet>;

    before(async () => {
      svc = await startSsfService({ database });
      verifyKeys = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`));
      const created = await svc.call('POST', '/ssf/streams', { delivery: { method: POLL_METHOD }, aud: AUDIENCE });
      assert.equal(created.status, 201);
      streamId = String(created.body.stream_id);
      token = String(created.body.receiver_token);
      device = await FakeDevice.create('linux');
      assert.equal((await device.enrol(svc.url, 'enrolment-secret-for-tests')).status, 201);
    });
    after(async () => {
      await svc?.close();
    });

    const poll = async (body: Record<string, unknown>): Promise<PollAnswer> => {
      const res = await svc.call('POST', `/ssf/poll/${streamId}`, body, token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as unknown as PollAnswer;
    };
    /** Each SET verified; its jti must be the key it came under. */
    type SetPayload = JWTPayload & { events: Record<string, Record<string, unknown>> };
    const verified = async (answer: PollAnswer): Promise<SetPayload[]> => {
      const out: SetPayload[] = [];
      for (const [jti, set] of Object.entries(answer.sets)) {
        const { payload } = await jwtVerify<SetPayload>(set, verifyKeys, { issuer: svc.url, audience: AUDIENCE, typ: 'secevent+jwt', algorithms: ['ES256'] });
        assert.equal(payload.jti, jti);
        out.push(payload);
      }
      return out;
    };
    const status = (p: { events: Record<string, Record<string, unknown>> }): unknown => p.events[DEVICE_COMPLIANCE_CHANGE]?.current_status;

    test('SETs wait until acknowledged, in order, each verified against the JWKS', async () => {
      await device.attest(svc.url, HEALTHY_LINUX);
      await device.attest(svc.url, { ...HEALTHY_LINUX, firewall: 'fail' });
      const first = await poll({ maxEvents: 1, returnImmediately: true });
      assert.equal(first.moreAvailable, true);
      const [compliant] = await verified(first);
      assert.equal(status(compliant!), 'compliant');
      // Not acknowledged: the same SET again.
      const again = await poll({ maxEvents: 1, returnImmediately: true });
      assert.deepEqual(Object.keys(again.sets), [compliant!.jti]);
      const second = await verified(await poll({ ack: [compliant!.jti], maxEvents: 10, returnImmediately: true }));
      assert.deepEqual(second.map(status), ['not-compliant']);
      // Acknowledged with maxEvents 0: nothing more is sent, and nothing is left.
      assert.deepEqual(await poll({ ack: [second[0]!.jti], maxEvents: 0 }), { sets: {}, moreAvailable: false });
      assert.deepEqual(await poll({ returnImmediately: true }), { sets: {}, moreAvailable: false });
    });

    test('an empty poll waits for the next event; a SET reported as an error is not sent again', async () => {
      const waiting = poll({ maxEvents: 10 });
      // The poll is waiting in the service when the device recovers (an empty answer would fail below).
      await new Promise((r) => setTimeout(r, 200));
      await device.attest(svc.url, HEALTHY_LINUX);
      const got = await verified(await waiting);
      assert.deepEqual(got.map(status), ['compliant']);
      await poll({ setErrs: { [got[0]!.jti as string]: { err: 'invalid_request', description: 'unknown device' } }, maxEvents: 0 });
      assert.deepEqual(await poll({ returnImmediately: true }), { sets: {}, moreAvailable: false });
    });

    test('a poll with bad members is refused with a typed 400', async () => {
      for (const body of [{ maxEvents: -1 }, { maxEvents: 100_000 }, { ack: 'x' }, { ack: Array.from({ length: 2000 }, (_, i) => String(i)) }, { returnImmediately: 'yes' }, { surprise: 1 }]) {
        const res = await svc.call('POST', `/ssf/poll/${streamId}`, body, token);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal((res.body.error as { code: string }).code, 'BAD_REQUEST');
      }
    });
  });
}

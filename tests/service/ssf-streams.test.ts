// Shared Signals stream management: the transmitter's metadata, IT's admin token and the
// receiver's stream token each allowed what they may do and nothing else (401, 403, 404), every
// hostile stream configuration refused with a typed 400 before anything is stored or sent, and
// the lifecycle create / read / update / replace / status / delete.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVICE_COMPLIANCE_CHANGE, POLL_METHOD, PUSH_METHOD } from '../../service/ssf/ssf-constants.js';
import type { SsfTestService } from '../kit/ssf-service.js';
import { startSsfService } from '../kit/ssf-service.js';

const code = (body: Record<string, unknown>): unknown => (body.error as { code?: string } | undefined)?.code;

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`Shared Signals stream management on ${database}`, () => {
    let svc: SsfTestService;
    let pushId: string;
    let pushToken: string;
    let pollId: string;
    let pollToken: string;

    before(async () => {
      svc = await startSsfService({ database });
      const push = await svc.call('POST', '/ssf/streams', { delivery: { method: PUSH_METHOD, endpoint_url: 'https://idp.example.org/ssf/events', authorization_header: 'Bearer secret-of-the-idp' }, aud: 'https://idp.example.org' });
      assert.equal(push.status, 201, JSON.stringify(push.body));
      pushId = String(push.body.stream_id);
      pushToken = String(push.body.receiver_token);
      const poll = await svc.call('POST', '/ssf/streams', { delivery: { method: POLL_METHOD } });
      assert.equal(poll.status, 201, JSON.stringify(poll.body));
      pollId = String(poll.body.stream_id);
      pollToken = String(poll.body.receiver_token);
    });
    after(async () => {
      await svc?.close();
    });

    test('the transmitter metadata names the issuer, its JWKS, both delivery methods and the endpoints', async () => {
      const res = await svc.call('GET', '/.well-known/ssf-configuration', undefined, null);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        spec_version: '1_0',
        issuer: svc.url,
        jwks_uri: `${svc.url}/.well-known/jwks.json`,
        delivery_methods_supported: ['urn:ietf:rfc:8935', 'urn:ietf:rfc:8936'],
        configuration_endpoint: `${svc.url}/ssf/streams`,
        status_endpoint: `${svc.url}/ssf/status`,
        verification_endpoint: `${svc.url}/ssf/verify`,
        default_subjects: 'ALL',
        authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6750' }],
      });
    });

    test('a created stream shows its configuration, never the push authorization; a poll stream gets the transmitter poll URL', async () => {
      const push = await svc.call('GET', `/ssf/streams?stream_id=${pushId}`);
      assert.equal(push.status, 200);
      assert.equal(push.body.iss, svc.url);
      assert.equal(push.body.aud, 'https://idp.example.org');
      assert.deepEqual(push.body.events_delivered, [DEVICE_COMPLIANCE_CHANGE]);
      assert.deepEqual(push.body.delivery, { method: PUSH_METHOD, endpoint_url: 'https://idp.example.org/ssf/events' });
      assert.doesNotMatch(JSON.stringify(push.body), /secret-of-the-idp/);
      const poll = await svc.call('GET', `/ssf/streams?stream_id=${pollId}`, undefined, pollToken);
      assert.deepEqual(poll.body.delivery, { method: POLL_METHOD, endpoint_url: `${svc.url}/ssf/poll/${pollId}` });
      const all = await svc.call('GET', '/ssf/streams');
      assert.ok(Array.isArray(all.body) && (all.body as unknown[]).length >= 2);
    });

    test('without a valid token every stream endpoint answers 401', async () => {
      for (const token of [null, 'wrong-token', 'dta_ssf_not-a-stream-token']) {
        for (const [method, path, body] of [
          ['POST', '/ssf/streams', { delivery: { method: POLL_METHOD } }],
          ['GET', '/ssf/streams', undefined],
          ['PATCH', '/ssf/streams', { stream_id: pushId, description: 'x' }],
          ['PUT', '/ssf/streams', { stream_id: pushId, delivery: { method: POLL_METHOD } }],
          ['DELETE', `/ssf/streams?stream_id=${pushId}`, undefined],
          ['GET', `/ssf/status?stream_id=${pushId}`, undefined],
          ['POST', '/ssf/status', { stream_id: pushId, status: 'disabled' }],
          ['POST', '/ssf/verify', { stream_id: pushId }],
          ['POST', `/ssf/poll/${pollId}`, { returnImmediately: true }],
        ] as const) {
          const res = await svc.call(method, path, body, token);
          assert.equal(res.status, 401, `${method} ${path} with ${String(token)}: ${JSON.stringify(res.body)}`);
          assert.equal(code(res.body), 'UNAUTHORIZED');
        }
      }
      assert.equal((await svc.call('GET', `/ssf/streams?stream_id=${pushId}`)).status, 200, 'the stream is still there');
    });

    test("a receiver's token may not change where events go (403) nor see another stream (404)", async () => {
      for (const [method, path, body] of [
        ['POST', '/ssf/streams', { delivery: { method: POLL_METHOD } }],
        ['PATCH', '/ssf/streams', { stream_id: pushId, delivery: { method: PUSH_METHOD, endpoint_url: 'https://attacker.example.net/' } }],
        ['PUT', '/ssf/streams', { stream_id: pushId, delivery: { method: POLL_METHOD } }],
        ['DELETE', `/ssf/streams?stream_id=${pushId}`, undefined],
      ] as const) {
        const res = await svc.call(method, path, body, pushToken);
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(code(res.body), 'FORBIDDEN');
      }
      for (const [method, path, body] of [
        ['GET', `/ssf/streams?stream_id=${pushId}`, undefined],
        ['GET', `/ssf/status?stream_id=${pushId}`, undefined],
        ['POST', '/ssf/verify', { stream_id: pushId }],
        ['POST', `/ssf/poll/${pushId}`, { returnImmediately: true }],
      ] as const) {
        const res = await svc.call(method, path, body, pollToken);
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(code(res.body), 'NOT_FOUND');
      }
      const own = await svc.call('GET', '/ssf/streams', undefined, pushToken);
      assert.deepEqual((own.body as unknown as { stream_id: string }[]).map((s) => s.stream_id), [pushId]);
    });

    test('hostile stream configurations are refused with a typed 400 and nothing is stored', async () => {
      const before = ((await svc.call('GET', '/ssf/streams')).body as unknown as unknown[]).length;
      const push = (endpoint_url: string): Record<string, unknown> => ({ delivery: { method: PUSH_METHOD, endpoint_url } });
      const cases: [string, unknown, RegExp][] = [
        ['plain http to a remote host', push('http://idp.example.org/events'), /https/],
        ['plain http to a private address', push('http://10.0.0.1/events'), /https/],
        ['another scheme', push('ftp://idp.example.org/events'), /https/],
        ['credentials in the URL', push('https://user:password@idp.example.org/events'), /credentials/],
        ['a fragment', push('https://idp.example.org/events#x'), /fragment/],
        ['not a URL', push('not a url'), /absolute URL/],
        ['a huge URL', push(`https://idp.example.org/${'a'.repeat(5000)}`), /endpoint_url/],
        ['push without an endpoint', { delivery: { method: PUSH_METHOD } }, /endpoint_url/],
        ['poll with an endpoint', { delivery: { method: POLL_METHOD, endpoint_url: 'https://idp.example.org/' } }, /transmitter/],
        ['an unknown delivery method', { delivery: { method: 'urn:example:carrier-pigeon' } }, /method/],
        ['a header with a line break', { delivery: { method: PUSH_METHOD, endpoint_url: 'https://idp.example.org/', authorization_header: 'Bearer x\r\nX-Evil: 1' } }, /authorization_header/],
        ['a huge description', { delivery: { method: POLL_METHOD }, description: 'd'.repeat(10_000) }, /description/],
        ['too many event types', { delivery: { method: POLL_METHOD }, events_requested: Array.from({ length: 1000 }, (_, i) => `urn:e:${i}`) }, /events_requested/],
        ['an unknown member', { delivery: { method: POLL_METHOD }, toString: 'x' }, /additional/],
        ['a prototype key in delivery', { delivery: { method: POLL_METHOD, hasOwnProperty: 'x' } }, /additional/],
        ['delivery only under __proto__', '{"__proto__":{"delivery":{"method":"urn:ietf:rfc:8936"}}}', /delivery/],
        ['delivery only under constructor', '{"constructor":{"prototype":{"delivery":{"method":"urn:ietf:rfc:8936"}}}}', /delivery/],
        ['another issuer', { delivery: { method: POLL_METHOD }, iss: 'https://evil.example.net' }, /iss/],
        ['not JSON', '{"delivery":', /JSON/],
      ];
      for (const [what, body, message] of cases) {
        const res = await svc.call('POST', '/ssf/streams', body);
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(code(res.body), 'BAD_REQUEST', what);
        assert.match(String((res.body.error as { message: string }).message), message, what);
      }
      const huge = await svc.call('POST', '/ssf/streams', { delivery: { method: POLL_METHOD }, description: 'x'.repeat(70_000) });
      assert.equal(huge.status, 413);
      assert.equal(code(huge.body), 'BODY_TOO_LARGE');
      assert.equal(({} as Record<string, unknown>).delivery, undefined, 'Object.prototype is untouched');
      assert.equal(((await svc.call('GET', '/ssf/streams')).body as unknown as unknown[]).length, before);
      const patched = await svc.call('PATCH', '/ssf/streams', { stream_id: pushId, delivery: { method: PUSH_METHOD, endpoint_url: 'http://idp.example.org/' } });
      assert.equal(patched.status, 400);
      assert.deepEqual((await svc.call('GET', `/ssf/streams?stream_id=${pushId}`)).body.delivery, { method: PUSH_METHOD, endpoint_url: 'https://idp.example.org/ssf/events' });
    });

    test('verification requests stop at ten undelivered ones (429), so a receiver cannot grow the outbox', async () => {
      for (let i = 0; i < 10; i++) assert.equal((await svc.call('POST', '/ssf/verify', { stream_id: pollId, state: `s${i}` }, pollToken)).status, 204);
      const refused = await svc.call('POST', '/ssf/verify', { stream_id: pollId, state: 'one more' }, pollToken);
      assert.equal(refused.status, 429);
      assert.equal(code(refused.body), 'RATE_LIMITED');
      const taken = await svc.call('POST', `/ssf/poll/${pollId}`, { returnImmediately: true }, pollToken);
      const jtis = Object.keys(taken.body.sets as Record<string, string>);
      assert.equal(jtis.length, 10);
      assert.equal((await svc.call('POST', `/ssf/poll/${pollId}`, { ack: jtis, maxEvents: 0 }, pollToken)).status, 200);
      assert.equal((await svc.call('POST', '/ssf/verify', { stream_id: pollId, state: 'after' }, pollToken)).status, 204);
    });

    test('a stream is updated, replaced, paused by its receiver and deleted by IT, each change audited', async () => {
      const created = await svc.call('POST', '/ssf/streams', { delivery: { method: POLL_METHOD }, description: 'first' });
      const id = String(created.body.stream_id);
      const token = String(created.body.receiver_token);
      const updated = await svc.call('PATCH', '/ssf/streams', { stream_id: id, description: 'second' });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.description, 'second');
      assert.deepEqual(updated.body.delivery, { method: POLL_METHOD, endpoint_url: `${svc.url}/ssf/poll/${id}` });
      const replaced = await svc.call('PUT', '/ssf/streams', { stream_id: id, delivery: { method: PUSH_METHOD, endpoint_url: 'https://idp.example.org/in' }, events_requested: ['urn:example:unsupported'] });
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.description, undefined);
      assert.deepEqual(replaced.body.events_delivered, []);
      const paused = await svc.call('POST', '/ssf/status', { stream_id: id, status: 'paused', reason: 'maintenance' }, token);
      assert.deepEqual(paused.body, { stream_id: id, status: 'paused', reason: 'maintenance' });
      const status = await svc.call('GET', `/ssf/status?stream_id=${id}`, undefined, token);
      assert.equal(status.body.status, 'paused');
      assert.equal((await svc.call('DELETE', `/ssf/streams?stream_id=${id}`)).status, 204);
      const gone = await svc.call('GET', `/ssf/streams?stream_id=${id}`);
      assert.equal(gone.status, 404);
      assert.equal((await svc.call('GET', `/ssf/status?stream_id=${id}`, undefined, token)).status, 401, 'its token went with it');
      const audit = await fetch(`${svc.url}/v1/admin/audit?limit=10000`, { headers: { authorization: 'Bearer admin-token-for-tests' } });
      const actions = (await audit.text()).split('\n').filter((l) => l.includes(id)).map((l) => (JSON.parse(l) as { action: string }).action);
      assert.deepEqual(actions, ['ssf.stream-create', 'ssf.stream-update', 'ssf.stream-replace', 'ssf.stream-status', 'ssf.stream-delete']);
    });
  });
}

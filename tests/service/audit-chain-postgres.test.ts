// The audit chain on PostgreSQL, where several service instances share one database: their
// appends spread over the chain's lanes, each lane stays one unbroken chain, and edits show as
// on SQLite.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { writeAudit } from '../../service/audit-log.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { createPgRoles } from '../kit/postgres-roles.js';
import { startTestService } from '../kit/service.js';

const MASTER_KEY = Buffer.alloc(32, 7); // the kit's

for (const isolation of ['read committed', 'repeatable read'] as const) {
  // A database whose default isolation an admin raised: the service's sessions still read the head after the lock.
  test(`two service instances writing at once to one PostgreSQL make an unbroken chain in every lane (database default: ${isolation})`, { timeout: 120_000 }, async () => {
    const roles = await createPgRoles();
    try {
      const owner = new pg.Client({ connectionString: roles.ownerUrl });
      await owner.connect();
      await owner.query(`ALTER DATABASE ${new URL(roles.ownerUrl).pathname.slice(1)} SET default_transaction_isolation = '${isolation}'`);
      await owner.end();
      const [a, b] = await Promise.all([0, 1].map(() => startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl }))) as [Awaited<ReturnType<typeof startTestService>>, Awaited<ReturnType<typeof startTestService>>];
      try {
        assert.deepEqual((await sql<{ transaction_isolation: string }>`SHOW transaction_isolation`.execute(a.running.db.kysely)).rows, [{ transaction_isolation: 'read committed' }]);
        const devices = await Promise.all(Array.from({ length: 24 }, () => FakeDevice.create()));
        // Every device enrols and attests through both instances, all at once: refusals too (a wrong secret).
        await Promise.all(devices.map(async (d, i) => {
          const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
          assert.equal((await d.enrol(first.url, first.enrolmentSecret)).status, 201);
          for (let n = 0; n < 3; n++) assert.equal((await d.attest((n % 2 === 0 ? second : first).url, HEALTHY_LINUX)).status, 200);
          const refused = (await d.enrol(second.url, 'not the enrolment secret')).status;
          assert.ok(refused === 403 || refused === 429, `refused: ${refused}`);
        }));
        await Promise.all([a.running.audit.checkpoint(), b.running.audit.checkpoint()]);
        const records = await a.audit();
        const ok = records.filter((r) => r.action === 'attest' && r.outcome === 'ok');
        assert.equal(ok.length, devices.length * 3);
        // Each lane one unbroken chain: every record follows the one before it in its lane.
        const lastOfLane = new Map<number, string>();
        for (const r of records) {
          const before = lastOfLane.get(r.lane);
          if (before !== undefined) assert.equal(r.prevHash, before, `record ${r.id} follows the record before it in lane ${r.lane}`);
          if (r.hash !== null) lastOfLane.set(r.lane, r.hash);
        }
        assert.ok(lastOfLane.size > 1, 'the instances\' appends spread over several lanes');
        const report = await verifyAuditLog(a.running.db, { masterKey: MASTER_KEY });
        assert.deepEqual(report.problems, []);
        assert.equal(report.records, records.length);
        assert.equal(report.chainStartId, records[0]?.id);
        assert.ok(report.checkpoints >= 1, 'at least one checkpoint (the second instance finds the head already checkpointed or writes its own)');
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    } finally {
      await roles.drop();
    }
  });
}

test('PostgreSQL: a record edited by someone with the owner\'s rights is named by verify', async () => {
  const roles = await createPgRoles();
  try {
    const svc = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl });
    let edited = 0;
    try {
      const device = await FakeDevice.create();
      await device.enrol(svc.url, svc.enrolmentSecret);
      for (let i = 0; i < 3; i++) await device.attest(svc.url, HEALTHY_LINUX);
      edited = (await svc.audit()).filter((r) => r.action === 'attest')[1]?.id ?? 0;
      const owner = new pg.Client({ connectionString: roles.ownerUrl });
      await owner.connect();
      await owner.query('ALTER TABLE audit DISABLE TRIGGER audit_append_only');
      await owner.query("UPDATE audit SET device_id = 'someone-else' WHERE id = $1", [edited]);
      await owner.end();
      const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY });
      assert.equal(report.problems[0]?.code, 'RECORD_ALTERED');
      assert.equal(report.problems[0]?.recordId, edited);
    } finally {
      await svc.close();
    }
  } finally {
    await roles.drop();
  }
});

test('PostgreSQL: text it would refuse or change (NUL, a lone surrogate) is stored as hashed, and the record is written', async () => {
  const roles = await createPgRoles();
  try {
    const svc = await startTestService({ database: 'postgres', pgUrl: roles.serviceUrl, pgMigrationUrl: roles.ownerUrl });
    try {
      await writeAudit(svc.running.db.kysely, { actor: 'device@127.0.0.1', action: 'enrol', deviceId: 'claimed\u0000id', outcome: 'refused', details: { note: 'x\ud800y' } }, Date.now());
      assert.equal((await svc.audit()).at(-1)?.deviceId, 'claimed\ufffdid');
      assert.deepEqual((await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY })).problems, []);
    } finally {
      await svc.close();
    }
  } finally {
    await roles.drop();
  }
});

// The audit chain's lanes on the real PostgreSQL: two appenders (two instances, or two
// connections of one) each take a lane of their own, so one does not wait for the other's
// commit; each lane is a hash chain of its own, and the log verifies whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { appendToChain } from '../../service/audit/append-to-chain.js';
import type { AppendedRecord } from '../../service/audit/append-to-chain.js';
import type { AuditCheckpoint } from '../../service/audit/audit-checkpoint.js';
import { writeCheckpoint } from '../../service/audit/audit-checkpoint.js';
import type { AuditProblemCode, AuditVerification } from '../../service/audit/verify-audit-log.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { auditLaneGenesis, auditRecordHash } from '../../service/audit/audit-hash.js';
import { createSealedBox } from '../../service/crypto/sealed-box.js';
import type { Db } from '../../service/db/connect.js';
import { connectDatabase } from '../../service/db/connect.js';
import { migrate } from '../../service/db/migrate.js';
import { createSigningKeys } from '../../service/keys/signing-keys.js';
import { createPgDatabase } from '../kit/service.js';
import { testEntry, waitingForAdvisoryLock } from '../kit/audit-appends.js';
import { waitForValue, waitUntil } from '../kit/wait.js';

const MASTER_KEY = Buffer.alloc(32, 7);

test('PostgreSQL: an append does not wait for another appender\'s open transaction; both commit and the log verifies', { timeout: 60_000 }, async () => {
  const database = await createPgDatabase();
  try {
    const a = connectDatabase({ kind: 'postgres', url: database.url });
    const b = connectDatabase({ kind: 'postgres', url: database.url });
    try {
      await migrate(a, { now: () => new Date() });
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let first: AppendedRecord | null = null;
      const aDone = a.kysely.transaction().execute(async (trx) => {
        first = await appendToChain(trx, testEntry('a'), Date.now());
        await held;
      });
      try {
        // A holds its lane once its record is written (its transaction still open).
        await waitForValue('A appended', () => Promise.resolve(first ?? undefined));
        let second: AppendedRecord | null | undefined;
        const bDone = appendToChain(b.kysely, testEntry('b'), Date.now()).then((r) => {
          second = r;
        });
        // Whichever comes first: B's append done, or B seen waiting for a lock A holds.
        const outcome = await waitForValue('B appended or B waiting', async () => {
          if (second !== undefined) return 'appended';
          return (await waitingForAdvisoryLock(a.kysely)) > 0 ? 'waiting' : undefined;
        }, 30_000);
        release();
        await aDone;
        await bDone;
        assert.equal(outcome, 'appended', 'B appended while A\'s transaction was still open (it waited for A\'s commit)');
        assert.ok(first !== null && second !== null && second !== undefined);
        const appended: AppendedRecord = first;
        const other: AppendedRecord = second;
        assert.notEqual(other.lane, appended.lane, 'B took another lane than A');
        const report = await verifyAuditLog(a, { masterKey: Buffer.alloc(32, 7) });
        assert.deepEqual(report.problems, []);
        assert.equal(report.records, 3, 'the chain start, A and B');
        assert.deepEqual(new Set(report.lanes.map((l) => l.lane)), new Set([0, appended.lane, other.lane]));
      } finally {
        release();
        await aDone.catch(() => undefined);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  } finally {
    await database.drop();
  }
});

/** Rounds of four appends held open together, so that they spread over four lanes each time. */
async function appendOverLanes(db: Db, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appended = 0;
    const open = Array.from({ length: 4 }, (_, i) =>
      db.kysely.transaction().execute(async (trx) => {
        await appendToChain(trx, testEntry(`round ${round}, appender ${i}`), Date.now());
        appended++;
        await held;
      }),
    );
    try {
      await waitUntil('four appends held open', () => appended === 4, 30_000);
    } finally {
      release();
      await Promise.all(open);
    }
  }
}

interface LaneRecord {
  id: number;
  lane: number;
}

/**
 * A log over several lanes, a checkpoint of every lane and one record after it; then `tamper`
 * (the owner's rights, the append-only trigger off) picks what to change from the records
 * vouched for, and the log is verified with and without the checkpoint given from outside.
 */
async function tamperedAfterCheckpoint(tamper: (client: pg.Client, vouched: readonly LaneRecord[], checkpoint: AuditCheckpoint) => Promise<void>): Promise<{ inLog: AuditVerification; given: AuditVerification }> {
  const database = await createPgDatabase();
  try {
    const db = connectDatabase({ kind: 'postgres', url: database.url });
    try {
      await migrate(db, { now: () => new Date() });
      await appendOverLanes(db, 3);
      const checkpoint = await writeCheckpoint(db.kysely, createSigningKeys(db, createSealedBox(MASTER_KEY), () => new Date()), 'https://dta.hospital.example', () => new Date());
      assert.ok(checkpoint, 'new records: a checkpoint');
      assert.ok(checkpoint.heads.length >= 3, `the checkpoint vouches for every lane used: ${JSON.stringify(checkpoint.heads)}`);
      const vouched = (await sql<LaneRecord>`SELECT id::int AS id, lane FROM audit WHERE id < ${Math.max(...checkpoint.heads.map((h) => h.id)) + 1} ORDER BY id`.execute(db.kysely)).rows;
      await appendToChain(db.kysely, testEntry('after the checkpoint'), Date.now());
      assert.deepEqual((await verifyAuditLog(db, { masterKey: MASTER_KEY, checkpoints: [checkpoint.jws] })).problems, [], 'untouched, it verifies');
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await client.query('ALTER TABLE audit DISABLE TRIGGER audit_append_only');
        await tamper(client, vouched, checkpoint);
      } finally {
        await client.end();
      }
      return { inLog: await verifyAuditLog(db, { masterKey: MASTER_KEY }), given: await verifyAuditLog(db, { masterKey: MASTER_KEY, checkpoints: [checkpoint.jws] }) };
    } finally {
      await db.close();
    }
  } finally {
    await database.drop();
  }
}

/** The lane after 0 with the most records among `records`. */
function busiestLane(records: readonly LaneRecord[]): number {
  const counts = new Map<number, number>();
  for (const r of records) if (r.lane !== 0) counts.set(r.lane, (counts.get(r.lane) ?? 0) + 1);
  const [lane] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? assert.fail('no lane after 0');
  return lane;
}

const codes = (report: AuditVerification): AuditProblemCode[] => report.problems.map((p) => p.code);

test('PostgreSQL: the tail of one lane cut off after a checkpoint shows as TAIL_TRUNCATED, from the checkpoint in the log and from one given', { timeout: 60_000 }, async () => {
  let lane = -1;
  let cut = 0;
  const { inLog, given } = await tamperedAfterCheckpoint(async (client, vouched) => {
    lane = busiestLane(vouched);
    cut = vouched.filter((r) => r.lane === lane).at(-1)?.id ?? assert.fail('no record');
    // The lane's last vouched-for record and whatever the lane holds after it.
    await client.query('DELETE FROM audit WHERE lane = $1 AND id >= $2', [lane, cut]);
  });
  for (const report of [inLog, given]) {
    assert.equal(report.problems[0]?.code, 'TAIL_TRUNCATED', JSON.stringify(report.problems));
    assert.match(report.problems[0]?.message ?? '', new RegExp(`record ${cut} in lane ${lane}\\b`));
  }
  assert.ok(given.problems.some((p) => p.code === 'TAIL_TRUNCATED' && /The checkpoint given/.test(p.message)), 'the checkpoint given says so too');
});

test('PostgreSQL: a whole lane deleted after a checkpoint shows as TAIL_TRUNCATED', { timeout: 60_000 }, async () => {
  let lane = -1;
  const { inLog, given } = await tamperedAfterCheckpoint(async (client, vouched) => {
    lane = busiestLane(vouched);
    await client.query('DELETE FROM audit WHERE lane = $1', [lane]);
  });
  for (const report of [inLog, given]) {
    assert.equal(report.problems[0]?.code, 'TAIL_TRUNCATED', JSON.stringify(report.problems));
    assert.match(report.problems[0]?.message ?? '', new RegExp(`lane ${lane}\\b`));
    assert.ok(!report.lanes.some((l) => l.lane === lane));
  }
  assert.ok(given.problems.some((p) => p.code === 'TAIL_TRUNCATED' && new RegExp(`no record of lane ${lane}: the lane was removed`).test(p.message)), JSON.stringify(given.problems));
});

test('PostgreSQL: a record moved to another lane no longer matches its hash (RECORD_ALTERED), and both lanes\' links break', { timeout: 60_000 }, async () => {
  let moved = 0;
  let from = -1;
  let to = -1;
  const { inLog } = await tamperedAfterCheckpoint(async (client, vouched) => {
    from = busiestLane(vouched);
    const ofLane = vouched.filter((r) => r.lane === from);
    moved = ofLane[0]?.id ?? assert.fail('no record');
    to = vouched.find((r) => r.lane !== 0 && r.lane !== from)?.lane ?? assert.fail('no third lane');
    await client.query('UPDATE audit SET lane = $1 WHERE id = $2', [to, moved]);
  });
  assert.ok(inLog.problems.some((p) => p.code === 'RECORD_ALTERED' && p.recordId === moved), JSON.stringify(inLog.problems));
  assert.ok(codes(inLog).includes('CHAIN_BROKEN') || codes(inLog).includes('CHAIN_START_MISSING'), `the lanes around it no longer link: ${JSON.stringify(inLog.problems)}`);
  assert.equal(inLog.ok, false);
});

test('PostgreSQL: a record edited in a lane after 0 is named by verify (RECORD_ALTERED)', { timeout: 60_000 }, async () => {
  let edited = 0;
  const { inLog, given } = await tamperedAfterCheckpoint(async (client, vouched) => {
    edited = vouched.find((r) => r.lane !== 0)?.id ?? assert.fail('no record in a lane after 0');
    await client.query("UPDATE audit SET actor = 'someone else' WHERE id = $1", [edited]);
  });
  for (const report of [inLog, given]) {
    assert.equal(report.problems[0]?.code, 'RECORD_ALTERED', JSON.stringify(report.problems));
    assert.equal(report.problems[0]?.recordId, edited);
  }
});

/** Inserts, as the owner, a record hashed as the service would hash the first record of `lane`. */
async function insertForged(client: pg.Client, id: number, lane: number): Promise<void> {
  const record = { id, at: Date.now(), actor: 'forger', action: 'test.forged', deviceId: null, outcome: 'ok', code: null, attestationId: null, details: '{}' };
  const prevHash = auditLaneGenesis(lane);
  await client.query('INSERT INTO audit (id, at, actor, action, device_id, outcome, code, attestation_id, details, hash, prev_hash, lane) VALUES ($1, $2, $3, $4, NULL, $5, NULL, NULL, $6, $7, $8, $9)', [id, record.at, record.actor, record.action, record.outcome, record.details, auditRecordHash(record, prevHash, lane), prevHash, lane]);
}

async function nextAuditId(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ id: string }>("SELECT nextval(pg_get_serial_sequence('audit', 'id')) AS id");
  return Number(rows[0]?.id ?? assert.fail('no id'));
}

test('PostgreSQL: a lane the service never writes is refused by the database, and verify names a record in one (LANE_INVALID) once the owner drops that check', { timeout: 60_000 }, async () => {
  let forged = 0;
  const { inLog, given } = await tamperedAfterCheckpoint(async (client) => {
    forged = await nextAuditId(client);
    // A chain of its own in lane 8, which no checkpoint locks or signs.
    await assert.rejects(insertForged(client, forged, 8), (e: unknown) => (e as { code?: unknown }).code === '23514');
    await client.query('ALTER TABLE audit DROP CONSTRAINT audit_lane_check');
    await insertForged(client, forged, 8);
  });
  for (const report of [inLog, given]) {
    assert.deepEqual(codes(report), ['LANE_INVALID'], JSON.stringify(report.problems));
    assert.equal(report.problems[0]?.recordId, forged);
    assert.ok(!report.lanes.some((l) => l.lane === 8));
  }
});

test('PostgreSQL: a lane the checkpoint given does not name, forged with an id below what it vouches for, is reported with the log\'s own checkpoint gone', { timeout: 60_000 }, async () => {
  let lane = -1;
  const { inLog, given } = await tamperedAfterCheckpoint(async (client) => {
    // The log's own checkpoint is lane 0's last records (with what followed it there): gone, as the owner could.
    await client.query("DELETE FROM audit WHERE lane = 0 AND id >= (SELECT max(id) FROM audit WHERE action = 'audit.checkpoint')");
    const used = (await client.query<{ lane: number }>('SELECT DISTINCT lane FROM audit')).rows.map((r) => r.lane);
    lane = [1, 2, 3, 4, 5, 6, 7].find((l) => !used.includes(l)) ?? assert.fail(`every lane is used: ${used.join(', ')}`);
    // Below every id the service drew, so it passes for history; verify must read it all the same.
    await insertForged(client, -1, lane);
  });
  assert.ok(inLog.lanes.some((l) => l.lane === lane && l.startId === -1), `verify reads records below id 1: ${JSON.stringify(inLog.lanes)}`);
  assert.equal(given.ok, false);
  assert.ok(given.problems.some((p) => p.code === 'CHECKPOINT_MISMATCH' && p.recordId === -1 && new RegExp(`names no record of lane ${lane}\\b`).test(p.message)), JSON.stringify(given.problems));
  assert.equal(given.externalCheckpoints, 0);
});

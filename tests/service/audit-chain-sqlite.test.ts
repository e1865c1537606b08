// Issue 14 item 4 on SQLite: anyone with the database file could drop the append-only
// triggers and edit, delete or cut off audit records without a trace. Each record now carries
// a SHA-256 hash chained to the one before, signed checkpoints of the head go into the log and
// the service log, and `verifyAuditLog` names the first record that does not hold.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { auditRecordHash } from '../../service/audit/audit-hash.js';
import { writeAudit } from '../../service/audit-log.js';
import { CHECKPOINT_TYP } from '../../service/audit/audit-checkpoint.js';
import { signJws } from '../../service/crypto/es256.js';
import { createSealedBox } from '../../service/crypto/sealed-box.js';
import { createSigningKeys } from '../../service/keys/signing-keys.js';
import { verifyAuditLog } from '../../service/audit/verify-audit-log.js';
import { connectDatabase } from '../../service/db/connect.js';
import { createRemoteKeySet } from '../../service/relying-party/remote-keys.js';
import { createTokenVerifier } from '../../service/relying-party/verify-device-token.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';

const MASTER_KEY = Buffer.alloc(32, 7); // the kit's

/** A service on a SQLite file in a folder of the test's, with a few records of every kind. */
async function serviceWithRecords(): Promise<{ svc: TestService; dir: string; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dta-audit-'));
  const svc = await startTestService({ dataDir: dir });
  const device = await FakeDevice.create();
  assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
  for (let i = 0; i < 3; i++) assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
  assert.equal((await device.enrol(svc.url, 'a wrong secret')).status, 403);
  return { svc, dir, path: join(dir, 'service.db') };
}

async function verifyFile(path: string, checkpoints: readonly string[] = []): ReturnType<typeof verifyAuditLog> {
  const db = connectDatabase({ kind: 'sqlite', path });
  try {
    return await verifyAuditLog(db, { masterKey: MASTER_KEY, checkpoints });
  } finally {
    await db.close();
  }
}

/** The attacker: the database file, the triggers dropped, free to change anything. */
function tamper(path: string, work: (sqlite: BetterSqlite3.Database) => void): void {
  const sqlite = new BetterSqlite3(path);
  try {
    sqlite.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete');
    work(sqlite);
  } finally {
    sqlite.close();
  }
}

/** The head a checkpoint vouches for in lane 0, SQLite's one lane. */
const laneZeroHead = (checkpoint: { heads: readonly { lane: number; id: number }[] }): number => checkpoint.heads.find((h) => h.lane === 0)?.id ?? assert.fail('the checkpoint vouches for no head of lane 0');

const ids = (sqlite: BetterSqlite3.Database, where = '1 = 1'): number[] => (sqlite.prepare(`SELECT id FROM audit WHERE ${where} ORDER BY id`).all() as { id: number }[]).map((r) => r.id);

test('an untouched log verifies: one chain from its start marker, every checkpoint signed and matching', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    assert.ok(await svc.running.audit.checkpoint(), 'new records since the start: a checkpoint is written');
    assert.equal(await svc.running.audit.checkpoint(), null, 'nothing new since: no second checkpoint');
    assert.equal((await (await FakeDevice.create()).enrol(svc.url, svc.enrolmentSecret)).status, 201);
    await svc.close(); // a record since the last checkpoint: one more at shutdown
    const report = await verifyFile(path);
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    assert.equal(report.unchained, 0);
    assert.equal(report.chainStartId, 1, 'a new database begins with the chain start marker');
    assert.equal(report.checkpoints, 2, 'the checkpoint taken and the one at shutdown');
    assert.deepEqual(report.lastCheckpoint?.heads, [{ lane: 0, id: report.records - 1 }], 'the shutdown checkpoint vouches for the last record before it, in SQLite\'s one lane');
    assert.deepEqual(report.lanes.map((l) => [l.lane, l.records]), [[0, report.records]], 'SQLite: one lane, lane 0');
    assert.equal(report.head?.id, report.records);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a record edited after the trigger was dropped is named by verify', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    await svc.close();
    let edited = 0;
    tamper(path, (sqlite) => {
      edited = ids(sqlite, "action = 'attest'")[1] ?? 0;
      sqlite.prepare("UPDATE audit SET details = json_set(details, '$.tier', 'none') WHERE id = ?").run(edited);
    });
    const report = await verifyFile(path);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]?.code, 'RECORD_ALTERED');
    assert.equal(report.problems[0]?.recordId, edited);
    assert.match(report.problems[0]?.message ?? '', new RegExp(`record ${edited}\\b`, 'i'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a record deleted from the middle breaks the chain at the record after it', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    await svc.close();
    let deleted = 0;
    let after = 0;
    tamper(path, (sqlite) => {
      const all = ids(sqlite);
      deleted = all[3] ?? 0;
      after = all[4] ?? 0;
      sqlite.prepare('DELETE FROM audit WHERE id = ?').run(deleted);
    });
    const report = await verifyFile(path);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]?.code, 'CHAIN_BROKEN');
    assert.equal(report.problems[0]?.recordId, after);
    assert.match(report.problems[0]?.message ?? '', new RegExp(`record ${after}\\b.*record ${deleted - 1}\\b`, 'i'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cut-off tail: the database alone cannot tell, a later checkpoint from the service log can', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    const external = await svc.running.audit.checkpoint();
    assert.ok(external);
    await svc.close();
    let kept = 0;
    tamper(path, (sqlite) => {
      // Everything from the second device's enrolment on: its record, the checkpoints after it.
      const from = ids(sqlite, "action = 'enrol' AND outcome = 'ok'")[1] ?? 0;
      sqlite.prepare('DELETE FROM audit WHERE id >= ?').run(from);
      kept = from - 1;
    });
    assert.equal((await verifyFile(path)).ok, true, 'what is left is a consistent chain');
    const report = await verifyFile(path, [external.jws]);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]?.code, 'TAIL_TRUNCATED');
    assert.match(report.problems[0]?.message ?? '', new RegExp(`record ${laneZeroHead(external)}\\b.*ends at record ${kept}\\b`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a chain rewritten with fresh hashes after an edit is caught by the signed checkpoints', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    const checkpoint = await svc.running.audit.checkpoint();
    assert.ok(checkpoint);
    await svc.close();
    let edited = 0;
    tamper(path, (sqlite) => {
      edited = ids(sqlite, "action = 'attest'")[0] ?? 0;
      sqlite.prepare("UPDATE audit SET outcome = 'refused' WHERE id = ?").run(edited);
      // Recompute every hash from the edited record on, as someone who read the docs would.
      type Row = { id: number; at: number; actor: string; action: string; device_id: string | null; outcome: string; code: string | null; attestation_id: string | null; details: string; hash: string; prev_hash: string };
      let prev = (sqlite.prepare('SELECT hash FROM audit WHERE id = ?').get(edited - 1) as { hash: string }).hash;
      for (const r of sqlite.prepare('SELECT * FROM audit WHERE id >= ? ORDER BY id').all(edited) as Row[]) {
        const hash = auditRecordHash({ id: r.id, at: r.at, actor: r.actor, action: r.action, deviceId: r.device_id, outcome: r.outcome, code: r.code, attestationId: r.attestation_id, details: r.details }, prev, 0);
        sqlite.prepare('UPDATE audit SET hash = ?, prev_hash = ? WHERE id = ?').run(hash, prev, r.id);
        prev = hash;
      }
    });
    const report = await verifyFile(path);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]?.code, 'CHECKPOINT_MISMATCH');
    assert.match(report.problems[0]?.message ?? '', new RegExp(`record ${laneZeroHead(checkpoint)}\\b`));
    assert.match(report.problems[0]?.message ?? '', new RegExp(`after record ${edited - 1}\\b|from record 1\\b`), 'it says from where the rewrite may start');
    assert.ok((report.problems[0]?.recordId ?? 0) > laneZeroHead(checkpoint), 'it names the checkpoint record');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an emptied log is reported: even a new database holds its chain start record', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    await svc.close();
    tamper(path, (sqlite) => sqlite.exec('DELETE FROM audit'));
    const report = await verifyFile(path);
    assert.equal(report.ok, false);
    assert.equal(report.problems[0]?.code, 'CHAIN_START_MISSING');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint with a changed head, a forged signature or the type of a device token is refused', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    const checkpoint = await svc.running.audit.checkpoint();
    assert.ok(checkpoint);
    const device = await FakeDevice.create();
    await device.enrol(svc.url, svc.enrolmentSecret);
    const { token } = (await device.attest(svc.url, HEALTHY_LINUX)).body as { token: string };
    await svc.close();
    const [h, p, s] = checkpoint.jws.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const otherPayload = Buffer.from(JSON.stringify({ ...payload, heads: [{ lane: 0, id: laneZeroHead(checkpoint) + 1, hash: checkpoint.heads[0]?.hash }] })).toString('base64url');
    for (const [jws, what] of [[`${h}.${otherPayload}.${s}`, 'a changed head'], [`${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`, 'a forged signature'], [token, 'a device token'], ['not a jws', 'garbage']] as const) {
      const report = await verifyFile(path, [jws]);
      assert.equal(report.ok, false, what);
      assert.equal(report.problems[0]?.code, 'CHECKPOINT_INVALID', what);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint signed with the service\'s own key that names a lane twice, or out of order, is refused', async () => {
  const { svc, dir, path } = await serviceWithRecords();
  try {
    const checkpoint = await svc.running.audit.checkpoint();
    assert.ok(checkpoint);
    await svc.close();
    const db = connectDatabase({ kind: 'sqlite', path });
    let forged: string[];
    try {
      const { kid, privateKey } = await createSigningKeys(db, createSealedBox(MASTER_KEY), () => new Date()).active();
      const head = checkpoint.heads[0] ?? assert.fail('no head');
      const sign = (heads: unknown[]): string => signJws({ typ: CHECKPOINT_TYP, kid }, { iss: checkpoint.iss, heads, at: checkpoint.at }, privateKey);
      // A lane named twice vouches for two heads of one lane; lanes out of order, for no one order.
      forged = [sign([head, { ...head, id: 1 }]), sign([{ ...head, lane: 1 }, head])];
      assert.equal((await verifyAuditLog(db, { masterKey: MASTER_KEY, checkpoints: [sign([head])] })).problems.length, 0, 'the same key and heads, each lane once: it holds');
    } finally {
      await db.close();
    }
    for (const jws of forged) {
      const report = await verifyFile(path, [jws]);
      assert.equal(report.problems[0]?.code, 'CHECKPOINT_INVALID');
      assert.match(report.problems[0]?.message ?? '', /each lane once, in ascending order/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint is signed with the token key under its own type, so no verifier takes it for a device token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-audit-'));
  const svc = await startTestService({ dataDir: dir });
  try {
    const checkpoint = await svc.running.audit.checkpoint();
    assert.ok(checkpoint, 'the chain start marker is new since the start');
    const header = JSON.parse(Buffer.from(checkpoint.jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as { typ: string; alg: string; kid: string };
    assert.equal(header.typ, CHECKPOINT_TYP);
    assert.equal(header.alg, 'ES256');
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    assert.ok(jwks.keys.some((k) => k.kid === header.kid), 'signed with a published token signing key');
    const verifier = createTokenVerifier(createRemoteKeySet({ url: `${svc.url}/.well-known/jwks.json` }), null);
    await assert.rejects(verifier.verify(checkpoint.jws, { issuer: svc.url, audience: 'https://records.hospital.example', requiredTier: 'limited' }), (e: unknown) => e instanceof VerifierDenial && e.code === 'TYP_MISMATCH');
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database from before the chain migrates: its old records are counted as unchained and the chain starts with a marker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-audit-'));
  const path = join(dir, 'service.db');
  try {
    // The audit table as the previous release made it, with three records.
    const legacy = new BetterSqlite3(path);
    legacy.exec(`CREATE TABLE audit (id integer primary key autoincrement, at integer not null, actor text not null, action text not null, device_id text, outcome text not null, code text, attestation_id text, details text not null);
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`);
    for (let i = 0; i < 3; i++) legacy.prepare("INSERT INTO audit (at, actor, action, outcome, details) VALUES (?, 'admin', 'admin.disable', 'ok', '{}')").run(1_700_000_000_000 + i);
    legacy.close();
    const svc = await startTestService({ dataDir: dir });
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    const exported = await svc.audit();
    await svc.close();
    assert.deepEqual(exported.slice(0, 3).map((r) => r.hash), [null, null, null], 'legacy records carry no hash');
    assert.equal(exported[3]?.action, 'audit.chain-start');
    assert.deepEqual(exported[3]?.details, { unchainedRecords: 3, lastUnchainedId: 3 });
    const report = await verifyFile(path);
    assert.deepEqual(report.problems, []);
    assert.equal(report.unchained, 3);
    assert.equal(report.chainStartId, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the export carries each record\'s hash and the one before, so a SIEM can check the chain from the export alone', async () => {
  const { svc, dir } = await serviceWithRecords();
  try {
    const records = await svc.audit();
    // The encoding docs/deploy/database.md gives, written out here rather than imported.
    let prev = '0'.repeat(64);
    for (const r of records) {
      assert.equal(r.prevHash, prev, `record ${r.id} follows the one before`);
      const encoded = JSON.stringify(['dta-audit/1', r.id, Date.parse(r.at), r.actor, r.action, r.deviceId, r.outcome, r.code, r.attestationId, JSON.stringify(r.details), r.prevHash]);
      assert.equal(r.hash, createHash('sha256').update(encoded).digest('hex'), `record ${r.id} hashes as documented`);
      prev = r.hash;
    }
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('text the database would change on the way in (a lone surrogate, NUL) is stored as hashed, so an honest record never looks edited', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-audit-'));
  const svc = await startTestService({ dataDir: dir });
  try {
    // The actor is cut at 200 characters: here through the middle of a surrogate pair.
    await writeAudit(svc.running.db.kysely, { actor: `${'a'.repeat(199)}😀`, action: 'attest', deviceId: 'claimed\ud800id', outcome: 'refused', code: 'BAD\u0000REQUEST', details: { note: 'x\udc00y' } }, Date.now());
    const report = await verifyAuditLog(svc.running.db, { masterKey: MASTER_KEY });
    assert.deepEqual(report.problems, []);
    const last = (await svc.audit()).at(-1);
    assert.equal(last?.deviceId, 'claimed\ufffdid');
    assert.equal(last?.code, 'BAD\ufffdREQUEST');
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints come on schedule while there are new records, and not while there are none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dta-audit-'));
  const svc = await startTestService({ dataDir: dir, auditCheckpointSeconds: 1 });
  try {
    const checkpoints = async (): Promise<number> => (await svc.audit()).filter((r) => r.action === 'audit.checkpoint').length;
    const device = await FakeDevice.create();
    assert.equal((await device.enrol(svc.url, svc.enrolmentSecret)).status, 201);
    const waitFor = async (enough: number): Promise<number> => {
      const deadline = Date.now() + 5_000;
      while ((await checkpoints()) < enough && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return checkpoints();
    };
    assert.ok((await waitFor(1)) >= 1, 'a checkpoint within a few intervals of new records (the chain start, the enrolment)');
    // On a busy machine the first checkpoint may vouch for the chain's start only, and a second
    // one follow for the enrolment: count from when the newest record is a checkpoint.
    for (const end = Date.now() + 5_000; (await svc.audit()).at(-1)?.action !== 'audit.checkpoint' && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await svc.audit()).at(-1)?.action, 'audit.checkpoint', 'every record so far vouched for');
    const first = await checkpoints();
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(await checkpoints(), first, 'no record since: no further checkpoint');
    assert.equal((await device.attest(svc.url, HEALTHY_LINUX)).status, 200);
    assert.equal(await waitFor(first + 1), first + 1, 'a new record: one more checkpoint');
    const last = (await svc.audit()).at(-1);
    assert.equal(last?.action, 'audit.checkpoint');
    assert.deepEqual((last?.details as { heads: { lane: number; id: number }[] }).heads.map((h) => [h.lane, h.id]), [[0, (last?.id ?? 0) - 1]], 'it vouches for the record before it');
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

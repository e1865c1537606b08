// `dta-service audit verify` and `dta-service migrate` as IT runs them: the service's
// checkpoints reach its log (for the SIEM), a checkpoint from there exposes a cut-off tail, a
// break exits 1 naming the record, and a database role with too many rights exits 2.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { initServiceDir } from '../../service/config.js';
import { FakeDevice, HEALTHY_LINUX } from '../kit/fake-device.js';
import { freePort } from '../kit/ports.js';
import { createPgRoles } from '../kit/postgres-roles.js';
import { runServiceCommand, startServiceAt } from '../kit/service-process.js';

const run = (args: readonly string[], env: Record<string, string> = {}) => runServiceCommand(args, { ...process.env, ...env });

/** The service in its own process; its log (JSON lines on stdout) collected. */
async function serve(configPath: string, url: string): Promise<{ log: () => string; stop(): Promise<number | null> }> {
  const service = await startServiceAt(['--config', configPath], url, { capture: true });
  return {
    log: () => service.log(),
    stop() {
      service.child.kill('SIGTERM');
      return service.exited();
    },
  };
}

function configure(dir: string, port: number, change: (config: Record<string, unknown>) => Record<string, unknown> = (c) => c): { configPath: string; secret: string } {
  const init = initServiceDir(dir, port);
  writeFileSync(init.configPath, JSON.stringify(change({ ...(JSON.parse(readFileSync(init.configPath, 'utf8')) as Record<string, unknown>), logLevel: 'info' })));
  return { configPath: init.configPath, secret: readFileSync(join(dir, 'enrolment-secret.txt'), 'utf8').trim() };
}

interface LoggedCheckpoint {
  jws: string;
  heads: { lane: number; id: number }[];
}

const checkpointsIn = (log: string): LoggedCheckpoint[] =>
  log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { auditCheckpoint?: LoggedCheckpoint })
    .flatMap((l) => (l.auditCheckpoint ? [l.auditCheckpoint] : []));

// Each test has its own folder, port and database (file, or roles of its own): they run side by side,
// each mostly waiting for the service's and the CLI's processes.
describe('dta-service audit verify', { concurrency: true }, () => {
  test('SQLite: the shutdown checkpoint is in the service log; with it, verify exposes a cut-off tail; an edited record is named', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dta-audit-cli-'));
    try {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const { configPath, secret } = configure(dir, port);
      const service = await serve(configPath, url);
      const device = await FakeDevice.create();
      assert.equal((await device.enrol(url, secret)).status, 201);
      for (let i = 0; i < 3; i++) assert.equal((await device.attest(url, HEALTHY_LINUX)).status, 200);
      assert.equal(await service.stop(), 0);
      const checkpoint = checkpointsIn(service.log()).at(-1);
      assert.ok(checkpoint, `a checkpoint in the log: ${service.log()}`);

      const intact = await run(['audit', 'verify', '--config', configPath, '--checkpoint', checkpoint.jws]);
      assert.equal(intact.code, 0, intact.stdout + intact.stderr);
      assert.match(intact.stdout, /intact/);
      assert.match(intact.stdout, /in 1 lane\n {2}lane 0: \d+ records, from record 1 to record \d+\n/, 'SQLite: one lane, named');

      const sqlite = new BetterSqlite3(join(dir, 'service.db'));
      sqlite.exec('DROP TRIGGER audit_no_delete; DROP TRIGGER audit_no_update');
      const last = (sqlite.prepare("SELECT max(id) AS id FROM audit WHERE action = 'attest'").get() as { id: number }).id;
      sqlite.prepare('DELETE FROM audit WHERE id >= ?').run(last);
      sqlite.close();
      // Both read the same cut-off database: asked at once.
      const [alone, truncated] = await Promise.all([run(['audit', 'verify', '--config', configPath]), run(['audit', 'verify', '--config', configPath, '--checkpoint', checkpoint.jws])]);
      assert.equal(alone.code, 0, 'the database alone cannot tell');
      assert.equal(truncated.code, 1);
      assert.match(truncated.stdout, new RegExp(`TAIL_TRUNCATED.*record ${checkpoint.heads.find((h) => h.lane === 0)?.id ?? 'none'}\\b.*ends at record ${last - 1}\\b`, 'i'));

      const edit = new BetterSqlite3(join(dir, 'service.db'));
      const enrolId = (edit.prepare("SELECT id FROM audit WHERE action = 'enrol'").get() as { id: number }).id;
      edit.prepare("UPDATE audit SET actor = 'someone else' WHERE id = ?").run(enrolId);
      edit.close();
      const altered = await run(['audit', 'verify', '--config', configPath]);
      assert.equal(altered.code, 1);
      assert.match(altered.stdout, new RegExp(`RECORD_ALTERED.*record ${enrolId}\\b`, 'i'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL: run as the table owner the service warns in its log and verify exits 2; migrated by the owner and run as the service role, verify exits 0', { timeout: 120_000 }, async () => {
    const roles = await createPgRoles();
    const dir = mkdtempSync(join(tmpdir(), 'dta-audit-cli-'));
    try {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const asOwner = configure(dir, port, (c) => ({ ...c, database: { kind: 'postgres', url: roles.ownerUrl } }));
      const service = await serve(asOwner.configPath, url);
      assert.equal(await service.stop(), 0);
      const warning = service.log().split('\n').find((l) => l.includes('"level":40') && l.includes('audit log'));
      assert.ok(warning, `a warning in the log: ${service.log()}`);
      assert.match(warning, new RegExp(`${roles.ownerRole}.*owns the audit table`));
      const unprotected = await run(['audit', 'verify', '--config', asOwner.configPath]);
      assert.equal(unprotected.code, 2, unprotected.stdout + unprotected.stderr);
      assert.match(unprotected.stdout, /unprotected/i);

      // The deployment the guide describes: the owner migrates, the service runs as its own role.
      writeFileSync(asOwner.configPath, JSON.stringify({ ...(JSON.parse(readFileSync(asOwner.configPath, 'utf8')) as object), database: { kind: 'postgres', url: roles.serviceUrl } }));
      const migrated = await run(['migrate', '--config', asOwner.configPath], { DTA_MIGRATION_URL: roles.ownerUrl });
      assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);
      assert.match(migrated.stdout, new RegExp(`granted ${roles.serviceRole}`));
      const least = await serve(asOwner.configPath, url);
      assert.equal(await least.stop(), 0);
      assert.ok(!least.log().includes('"level":40'), `no warning: ${least.log()}`);
      const verified = await run(['audit', 'verify', '--config', asOwner.configPath]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /intact/);
      assert.match(verified.stdout, new RegExp(`${roles.serviceRole}.*INSERT and SELECT only`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await roles.drop();
    }
  });
});

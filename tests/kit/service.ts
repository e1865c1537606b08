// Starts the real device trust service on loopback with a fresh database: a temporary
// SQLite file, or a fresh database on the PostgreSQL server that .ci/run starts
// (DTA_TEST_PG_URL).
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import type { RunningService, ServiceConfig } from '../../service/create-service.js';
import { createService } from '../../service/create-service.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import type { AuditRecord } from '../../service/audit-log.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { kitFolderPath } from './temp-folder.js';

export type TestDatabase = 'sqlite' | 'postgres';

export interface TestService {
  readonly url: string;
  readonly running: RunningService;
  readonly adminToken: string;
  readonly enrolmentSecret: string;
  readonly policyPath: string;
  readonly dataDir: string;
  /** Its PostgreSQL database (null on SQLite): another instance given it shares the service's state. */
  readonly pgUrl: string | null;
  admin(method: string, path: string): Promise<Response>;
  /** The audit log as IT exports it (JSON lines), parsed. */
  audit(): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

export const PG_URL = testPgUrl(process.env.DTA_TEST_PG_URL);

function testPgUrl(fromEnv: string | undefined): string {
  const url = fromEnv === undefined || fromEnv === '' ? 'postgres://postgres@127.0.0.1:5432/postgres' : fromEnv;
  // pg resolves anything that is not a URL against postgres://base, which fails later as a
  // DNS lookup of "base"; say what is wrong instead.
  if (!/^postgres(ql)?:\/\/\S+$/.test(url)) throw new Error(`DTA_TEST_PG_URL is not a postgres:// URL: ${JSON.stringify(url)}`);
  return url;
}

/** The whole audit export of a service at `url` (a spawned one too), page by page, parsed. */
export async function readAudit(url: string, adminToken: string): Promise<AuditRecord[]> {
  const all: AuditRecord[] = [];
  for (;;) {
    const res = await fetch(`${url}/v1/admin/audit?after=${all.at(-1)?.id ?? 0}&limit=10000`, { headers: { authorization: `Bearer ${adminToken}` } });
    if (res.status !== 200) throw new Error(`the audit export answered ${res.status}`);
    const page = (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as AuditRecord);
    all.push(...page);
    if (page.length < 10_000) return all;
  }
}

export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `dta_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** `pgMigrationUrl`: the owner role's URL when `pgUrl` is a least-privilege service role (tests/kit/postgres-roles.ts). */
/**
 * `publicUrl`: another instance's, so that several instances are one service (the same issuer);
 * `dataDir` and `port`: a service's before, to start it again on its database.
 */
export async function startTestService(options: { database?: TestDatabase; policyYaml?: string; now?: () => Date; pgUrl?: string; pgMigrationUrl?: string; masterKey?: Buffer; dataDir?: string; port?: number; publicUrl?: string; auditCheckpointSeconds?: number; tpmManufacturerCas?: readonly string[]; rateLimit?: ServiceConfig['rateLimit']; sharedSignals?: ServiceConfig['sharedSignals']; console?: ServiceConfig['console'] } = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? kitFolderPath('dta-svc-');
  const policyPath = join(dataDir, 'policy.yaml');
  writeFileSync(policyPath, options.policyYaml ?? DEFAULT_POLICY_YAML);
  const adminToken = 'admin-token-for-tests';
  const enrolmentSecret = 'enrolment-secret-for-tests';
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  let dropPg: (() => Promise<void>) | undefined;
  let database: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; migrationUrl?: string };
  if (options.database === 'postgres') {
    if (options.pgUrl) database = { kind: 'postgres', url: options.pgUrl, ...(options.pgMigrationUrl !== undefined ? { migrationUrl: options.pgMigrationUrl } : {}) };
    else {
      const created = await createPgDatabase();
      dropPg = () => created.drop();
      database = { kind: 'postgres', url: created.url };
    }
  } else {
    database = { kind: 'sqlite', path: join(dataDir, 'service.db') };
  }
  // The URL is known only after listen; the issuer must match it, so bind first to a port.
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const running = await createService({
    publicUrl: options.publicUrl ?? url,
    database,
    masterKey: options.masterKey ?? Buffer.alloc(32, 7),
    policy: await openPolicyFile(policyPath),
    enrolmentSecretHashes: [sha(enrolmentSecret)],
    adminTokenHashes: [sha(adminToken)],
    statusListTtlSeconds: 1,
    rateLimit: options.rateLimit ?? { perDevicePerMinute: 600, perClientPerMinute: 60_000 },
    ...(options.now ? { now: options.now } : {}),
    ...(options.auditCheckpointSeconds !== undefined ? { auditCheckpointSeconds: options.auditCheckpointSeconds } : {}),
    ...(options.tpmManufacturerCas !== undefined ? { tpmManufacturerCas: options.tpmManufacturerCas } : {}),
    ...(options.sharedSignals !== undefined ? { sharedSignals: options.sharedSignals } : {}),
    ...(options.console !== undefined ? { console: options.console } : {}),
  });
  await running.app.listen({ host: '127.0.0.1', port });
  return {
    url,
    running,
    adminToken,
    enrolmentSecret,
    policyPath,
    dataDir,
    pgUrl: database.kind === 'postgres' ? database.url : null,
    admin: (method, path) => fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}` } }),
    audit: () => readAudit(url, adminToken),
    async close() {
      await running.close();
      await dropPg?.();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true }); // ours, not a caller's
    },
  };
}

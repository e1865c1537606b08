// The real device trust service on loopback with IT's console configured against a test
// provider: SQLite in a temp folder, or a fresh PostgreSQL database (shared by two instances
// when a test passes the same `pgUrl`). Removes what it made on close.
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningService } from '../../service/create-service.js';
import { createService } from '../../service/create-service.js';
import type { ConsoleConfig } from '../../service/console/console-config.js';
import { resolveConsoleSettings } from '../../service/console/console-config.js';
import type { AuditRecord } from '../../service/audit-log.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { readAudit } from '../kit/service.js';
import { kitFolderPath } from '../kit/temp-folder.js';
import { CLIENT_ID, CLIENT_SECRET } from './oidc-test-provider.js';

export const ROLE_GROUPS = { 'dta-admins': 'admin', 'dta-helpdesk': 'helpdesk', 'dta-viewers': 'viewer' } as const;

export interface ConsoleService {
  readonly url: string;
  readonly running: RunningService;
  readonly adminToken: string;
  readonly enrolmentSecret: string;
  audit(): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

export async function startConsoleService(options: {
  port: number;
  issuer: string;
  database?: { kind: 'sqlite' } | { kind: 'postgres'; url: string };
  console?: Partial<ConsoleConfig>;
  now?: () => Date;
  policyYaml?: string;
}): Promise<ConsoleService> {
  const dir = kitFolderPath('dta-console-svc-');
  const policyPath = join(dir, 'policy.yaml');
  // Devices without the enrolment secret wait for IT's approval: the console's first action.
  writeFileSync(policyPath, options.policyYaml ?? DEFAULT_POLICY_YAML.replace(/^ {2}mode: secret\b/m, '  mode: secret-or-approval'));
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
  const url = `http://127.0.0.1:${options.port}`;
  const adminToken = 'admin-token-for-console-tests';
  const enrolmentSecret = 'enrolment-secret-for-console-tests';
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  let running: RunningService;
  try {
    running = await createService({
      publicUrl: url,
      database: options.database?.kind === 'postgres' ? { kind: 'postgres', url: options.database.url } : { kind: 'sqlite', path: join(dir, 'service.db') },
      masterKey: Buffer.alloc(32, 9),
      policy: await openPolicyFile(policyPath),
      enrolmentSecretHashes: [sha(enrolmentSecret)],
      adminTokenHashes: [sha(adminToken)],
      rateLimit: { perDevicePerMinute: 600, perClientPerMinute: 60_000 },
      console: resolveConsoleSettings({ issuer: options.issuer, clientId: CLIENT_ID, clientSecretFile: secretFile, publicUrl: url, scopes: ['profile', 'groups'], roles: { ...ROLE_GROUPS }, ...options.console }),
      ...(options.now ? { now: options.now } : {}),
    });
    await running.app.listen({ host: '127.0.0.1', port: options.port });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    running,
    adminToken,
    enrolmentSecret,
    audit: () => readAudit(url, adminToken),
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

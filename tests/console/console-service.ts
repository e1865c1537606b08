// The real device trust service on loopback with IT's console configured against a test
// provider: SQLite in a temp folder, or PostgreSQL: a fresh database of its own (dropped on
// close), or the one at `url` (shared by two instances given the same). Removes what it made on close.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningService } from '../../service/create-service.js';
import type { ConsoleConfig } from '../../service/console/console-config.js';
import { resolveConsoleSettings } from '../../service/console/console-config.js';
import type { AuditRecord } from '../../service/audit-log.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { startTestService } from '../kit/service.js';
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
  database?: { kind: 'sqlite' } | { kind: 'postgres'; url?: string };
  console?: Partial<ConsoleConfig>;
  now?: () => Date;
  policyYaml?: string;
}): Promise<ConsoleService> {
  const dir = kitFolderPath('dta-console-svc-');
  // Devices without the enrolment secret wait for IT's approval (policyYaml below): the console's first action.
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
  const url = `http://127.0.0.1:${options.port}`;
  const svc = await startTestService({
    port: options.port,
    dataDir: dir,
    policyYaml: options.policyYaml ?? DEFAULT_POLICY_YAML.replace(/^ {2}mode: secret\b/m, '  mode: secret-or-approval'),
    masterKey: Buffer.alloc(32, 9),
    ...(options.database?.kind === 'postgres' ? { database: 'postgres' as const, ...(options.database.url !== undefined ? { pgUrl: options.database.url } : {}) } : {}),
    console: resolveConsoleSettings({ issuer: options.issuer, clientId: CLIENT_ID, clientSecretFile: secretFile, publicUrl: url, scopes: ['profile', 'groups'], roles: { ...ROLE_GROUPS }, ...options.console }),
    ...(options.now ? { now: options.now } : {}),
  }).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    url,
    running: svc.running,
    adminToken: svc.adminToken,
    enrolmentSecret: svc.enrolmentSecret,
    audit: () => svc.audit(),
    async close() {
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

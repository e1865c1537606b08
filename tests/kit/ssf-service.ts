// The real service with Shared Signals set for tests: plain http push endpoints on loopback
// allowed (the explicit switch production never sets), quick retries and a short long poll.
// Built like startTestService (tests/kit/service.ts), which has no Shared Signals options.
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningService } from '../../service/create-service.js';
import { createService } from '../../service/create-service.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import type { SharedSignalsOptions } from '../../service/ssf/create-shared-signals.js';
import { freePort } from './ports.js';
import { createPgDatabase } from './service.js';
import { kitFolderPath } from './temp-folder.js';

export const SSF_ADMIN_TOKEN = 'admin-token-for-tests';

export interface SsfTestService {
  readonly url: string;
  readonly running: RunningService;
  /** A request with IT's admin token (or `token`), JSON in and out. */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export const TEST_SSF_OPTIONS: SharedSignalsOptions = { allowLoopbackHttp: true, pushIntervalMs: 200, baseBackoffMs: 100, maxBackoffMs: 400, maxAttempts: 3, pushTimeoutMs: 2000, longPollMs: 1500 };

/** A service; on PostgreSQL a fresh database unless `pgUrl` names one (a second instance sharing it). */
/**
 * `publicUrl`: another instance's, so that several instances are one service (the same iss).
 * `dataDir` and `port`: the folder (its SQLite file) and port of a service before, to start it again.
 */
export async function startSsfService(options: { database: 'sqlite' | 'postgres'; pgUrl?: string; publicUrl?: string; dataDir?: string; port?: number; sharedSignals?: SharedSignalsOptions }): Promise<SsfTestService & { pgUrl: string | null; dataDir: string; port: number }> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? kitFolderPath('dta-ssf-');
  const policyPath = join(dataDir, 'policy.yaml');
  writeFileSync(policyPath, DEFAULT_POLICY_YAML);
  let drop: (() => Promise<void>) | null = null;
  let pgUrl: string | null = null;
  if (options.database === 'postgres') {
    if (options.pgUrl !== undefined) pgUrl = options.pgUrl;
    else {
      const created = await createPgDatabase();
      pgUrl = created.url;
      drop = () => created.drop();
    }
  }
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  let running: RunningService;
  try {
    running = await createService({
      publicUrl: options.publicUrl ?? url,
      database: pgUrl !== null ? { kind: 'postgres', url: pgUrl } : { kind: 'sqlite', path: join(dataDir, 'service.db') },
      masterKey: Buffer.alloc(32, 7),
      policy: await openPolicyFile(policyPath),
      enrolmentSecretHashes: [sha('enrolment-secret-for-tests')],
      adminTokenHashes: [sha(SSF_ADMIN_TOKEN)],
      statusListTtlSeconds: 1,
      rateLimit: { perDevicePerMinute: 6000, perClientPerMinute: 60_000, adminFailuresPerClientPerMinute: 1000 },
      sharedSignals: options.sharedSignals ?? TEST_SSF_OPTIONS,
    });
    await running.app.listen({ host: '127.0.0.1', port });
  } catch (e) {
    await drop?.();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    running,
    pgUrl,
    dataDir,
    port,
    async call(method, path, body, token = SSF_ADMIN_TOKEN) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    },
    async close() {
      await running.close();
      await drop?.();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

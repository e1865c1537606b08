// The real service with Shared Signals set for tests: plain http push endpoints on loopback
// allowed (the explicit switch production never sets), quick retries and a short long poll.
// startTestService (tests/kit/service.ts) with those options and a JSON caller.
import type { RunningService } from '../../service/create-service.js';
import type { SharedSignalsOptions } from '../../service/ssf/create-shared-signals.js';
import { startTestService } from './service.js';

export const SSF_ADMIN_TOKEN = 'admin-token-for-tests';

export interface SsfTestService {
  readonly url: string;
  readonly running: RunningService;
  /** A request with IT's admin token (or `token`), JSON in and out. */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export const TEST_SSF_OPTIONS: SharedSignalsOptions = { allowLoopbackHttp: true, pushIntervalMs: 200, baseBackoffMs: 100, maxBackoffMs: 400, maxAttempts: 3, pushTimeoutMs: 2000, longPollMs: 1500 };

/**
 * A service; on PostgreSQL a fresh database unless `pgUrl` names one (a second instance sharing it).
 * `publicUrl`: another instance's, so that several instances are one service (the same iss).
 * `dataDir` and `port`: the folder (its SQLite file) and port of a service before, to start it again.
 */
export async function startSsfService(options: { database: 'sqlite' | 'postgres'; pgUrl?: string; publicUrl?: string; dataDir?: string; port?: number; sharedSignals?: SharedSignalsOptions }): Promise<SsfTestService & { pgUrl: string | null; dataDir: string; port: number }> {
  const svc = await startTestService({
    database: options.database,
    ...(options.pgUrl !== undefined ? { pgUrl: options.pgUrl } : {}),
    ...(options.publicUrl !== undefined ? { publicUrl: options.publicUrl } : {}),
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    // Hostile-input tests refuse the admin token many times over.
    rateLimit: { perDevicePerMinute: 6000, perClientPerMinute: 60_000, adminFailuresPerClientPerMinute: 1000 },
    sharedSignals: options.sharedSignals ?? TEST_SSF_OPTIONS,
  });
  return {
    url: svc.url,
    running: svc.running,
    pgUrl: svc.pgUrl,
    dataDir: svc.dataDir,
    port: Number(new URL(svc.url).port),
    async call(method, path, body, token = SSF_ADMIN_TOKEN) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${svc.url}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    },
    close: () => svc.close(),
  };
}

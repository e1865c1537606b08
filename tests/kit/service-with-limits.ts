// The real device trust service on loopback, as tests/kit/service.ts starts it, but with the
// rate limits a test chooses (tight ones, to see them act), and requests sent from another
// loopback address (127.0.0.2): a second client, as the service sees it.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningService, ServiceConfig } from '../../service/create-service.js';
import { createService } from '../../service/create-service.js';
import { openPolicyFile } from '../../service/policy/load-policy.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { freePort } from './ports.js';
import { readAudit } from './service.js';
import type { AuditRecord } from '../../service/audit-log.js';
import { kitFolderPath } from './temp-folder.js';

export interface LimitedService {
  readonly url: string;
  readonly running: RunningService;
  readonly adminToken: string;
  readonly enrolmentSecret: string;
  readonly dataDir: string;
  audit(): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

/** A SQLite-backed service with these rate limits; `keepDataDir` leaves the database for the test to read after close. */
export async function startServiceWithLimits(options: { rateLimit: NonNullable<ServiceConfig['rateLimit']>; now?: () => Date; keepDataDir?: boolean; policyYaml?: string }): Promise<LimitedService> {
  const dataDir = kitFolderPath('dta-lim-');
  const policyPath = join(dataDir, 'policy.yaml');
  writeFileSync(policyPath, options.policyYaml ?? DEFAULT_POLICY_YAML);
  const adminToken = 'admin-token-for-tests';
  const enrolmentSecret = 'enrolment-secret-for-tests';
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const running = await createService({
    publicUrl: url,
    database: { kind: 'sqlite', path: join(dataDir, 'service.db') },
    masterKey: Buffer.alloc(32, 7),
    policy: await openPolicyFile(policyPath),
    enrolmentSecretHashes: [sha(enrolmentSecret)],
    adminTokenHashes: [sha(adminToken)],
    statusListTtlSeconds: 1,
    rateLimit: options.rateLimit,
    ...(options.now ? { now: options.now } : {}),
  });
  await running.app.listen({ host: '127.0.0.1', port });
  return {
    url,
    running,
    adminToken,
    enrolmentSecret,
    dataDir,
    audit: () => readAudit(url, adminToken),
    async close() {
      await running.close();
      if (!options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

const fromOther = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** A request from the loopback address `from` (127.0.0.2: another client than the device at 127.0.0.1). */
export function requestFrom(from: string, url: string, options: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const target = new URL(url);
  const payload = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        localAddress: from,
        agent: fromOther,
        headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Answer['body'] = {};
          try {
            body = text === '' ? {} : (JSON.parse(text) as Answer['body']);
          } catch {
            body = { text };
          }
          resolve({ status: res.statusCode ?? 0, retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `count` requests, `concurrency` at a time, and counts the answers by status. */
export async function flood(count: number, concurrency: number, send: (i: number) => Promise<Answer>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const a = await send(i);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

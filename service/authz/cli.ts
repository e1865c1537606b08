// `dta-authz`: the reverse-proxy check (docs/access-services.md).
//   dta-authz --config FILE          answer the proxies' subrequests; one JSON line per decision on stdout
//   dta-authz check-config FILE      check a configuration file, print its problems with their lines
// Exit codes: 0 ok, 2 a configuration or usage problem (nothing started), 1 anything else.
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { ReplayStore } from '../relying-party/index.js';
import { createPostgresReplayStore } from '../relying-party/index.js';
import { VerifierConfigError } from '../relying-party/errors.js';
import type { AuthzConfigFile } from './config.js';
import { readAuthzConfig } from './config.js';
import { startAuthz, type RunningAuthz } from './authz-server.js';
import { AuthzConfigError } from './errors.js';

const USAGE = 'usage: dta-authz --config FILE | dta-authz check-config FILE';

/** A secret's file: readable, and by its owner only (like ssh's keys), since it opens the gate. */
function readSecretFile(path: string, what: string): Buffer {
  try {
    if ((statSync(path).mode & 0o077) !== 0) throw new AuthzConfigError('SECRET_UNREADABLE', `${what} ${path} is readable by other accounts: chmod 600 it (and chown it to the account dta-authz runs as).`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof AuthzConfigError) throw e;
    throw new AuthzConfigError('SECRET_UNREADABLE', `Cannot read ${what} ${path}: ${(e as Error).message}`, [], { cause: e });
  }
}

/** The replicas' shared replay store, its table created if missing (docs: or by IT ahead, with replayTableSql). */
async function sharedReplayStore(config: NonNullable<AuthzConfigFile['replayStore']>): Promise<{ store: ReplayStore; end(): Promise<void> }> {
  const url = readSecretFile(config.postgresUrlFile, 'the replay database URL file').toString('utf8').trim();
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const store = createPostgresReplayStore({ db: pool, ...(config.table !== undefined ? { table: config.table } : {}) });
  try {
    await store.createTable();
  } catch (e) {
    await pool.end();
    throw e;
  }
  return { store, end: () => pool.end() };
}

/** Starts dta-authz from a configuration file; `write` gets each output line. */
export async function runAuthz(configPath: string, write: (line: string) => void): Promise<RunningAuthz> {
  const config = readAuthzConfig(configPath);
  const secret = config.dpopNonce !== undefined ? readSecretFile(config.dpopNonce.secretFile, 'the DPoP nonce secret file') : undefined;
  const replay = config.replayStore !== undefined ? await sharedReplayStore(config.replayStore) : undefined;
  let running: RunningAuthz;
  try {
    running = await startAuthz(config, { ...(secret !== undefined ? { dpopNonceSecret: secret } : {}), ...(replay !== undefined ? { replayStore: replay.store } : {}), log: (line) => write(JSON.stringify(line)) });
  } catch (e) {
    await replay?.end();
    throw e;
  }
  for (const l of running.listeners) write(JSON.stringify({ event: 'listening', mode: l.mode, url: l.url }));
  return {
    listeners: running.listeners,
    async close() {
      await running.close();
      await replay?.end();
    },
  };
}

export async function main(argv: readonly string[], out: (line: string) => void = (l) => void process.stdout.write(`${l}\n`), err: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { config: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (e) {
    err(`dta-authz: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  try {
    if (positionals[0] === 'check-config' && positionals.length === 2 && values.config === undefined) {
      readAuthzConfig(positionals[1] ?? '');
      out(`dta-authz: ${positionals[1] ?? ''} is valid.`);
      return 0;
    }
    if (positionals.length !== 0 || values.config === undefined) {
      err(USAGE);
      return 2;
    }
    const running = await runAuthz(values.config, out);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await running.close();
    return 0;
  } catch (e) {
    if (e instanceof AuthzConfigError || e instanceof VerifierConfigError) {
      err(`dta-authz: ${e.code}: ${e.message}`);
      return 2;
    }
    err(`dta-authz: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) process.exitCode = await main(process.argv.slice(2));

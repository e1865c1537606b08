// `dta-service`: runs the device trust service.
//   dta-service --config service.json      run with IT's configuration
//   dta-service --init DIR [--port N]      write an embedded (SQLite) set-up into DIR, then run it
//   dta-service migrate --config FILE      migrate as the owner role (DTA_MIGRATION_URL) and grant the service's role
//   dta-service audit verify --config FILE [--checkpoint JWS]...   check the audit log's hash chain and checkpoints
//   dta-service break-glass keygen|declare|end ...   IT's emergency access notices (docs/emergency-access.md)
import { readManufacturerCasFile } from './tpm-attestation/verify-key-attestation.js';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runAuditVerify } from './audit/audit-verify-command.js';
import { runBreakGlass } from './break-glass/break-glass-command.js';
import { readBreakGlassPublicKeys } from './break-glass/break-glass-key-files.js';
import { createService } from './create-service.js';
import { runMigrate } from './db/migrate-command.js';
import { initServiceDir, readMasterKey, readServiceConfig } from './config.js';
import { openPolicyFile } from './policy/load-policy.js';
import { sharedSignalsSettings } from './ssf/create-shared-signals.js';
import { metricsConfigFromFile } from './metrics/metrics-http.js';
import { resolveConsoleSettings } from './console/console-config.js';

export async function runService(argv: readonly string[]): Promise<{ close(): Promise<void>; url: string }> {
  const { values } = parseArgs({ args: [...argv], options: { config: { type: 'string' }, init: { type: 'string' }, port: { type: 'string', default: '8787' } }, strict: true });
  let configPath = values.config;
  if (values.init !== undefined) {
    const init = initServiceDir(values.init, Number(values.port));
    configPath = init.configPath;
    if (init.enrolmentSecret) process.stderr.write(`dta-service: new set-up in ${values.init} (secrets in enrolment-secret.txt and admin-token.txt there)\n`);
  }
  if (configPath === undefined) throw new Error('usage: dta-service --config FILE | --init DIR [--port N]');
  const config = readServiceConfig(configPath);
  let onPolicy: (r: { applied: boolean; version: number; problems: { line: number | null; message: string }[] }) => void = () => undefined;
  const policy = await openPolicyFile(config.policyFile, (r) => onPolicy(r));
  const running = await createService({
    publicUrl: config.publicUrl,
    database: config.database,
    masterKey: readMasterKey(config.masterKeyFile),
    policy,
    enrolmentSecretHashes: config.enrolmentSecretHashes,
    adminTokenHashes: config.adminTokenHashes,
    logger: { level: config.logLevel ?? 'info' },
    ...(config.rateLimit ? { rateLimit: config.rateLimit } : {}),
    ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
    ...(config.audit ? { auditCheckpointSeconds: config.audit.checkpointIntervalSeconds } : {}),
    ...(config.breakGlassKeysFile !== undefined ? { breakGlassKeys: readBreakGlassPublicKeys(config.breakGlassKeysFile) } : {}),
    ...(config.statusList ? { statusListPublishDir: config.statusList.publishDir } : {}),
    ...(config.statusList?.publishIntervalSeconds !== undefined ? { statusListPublishIntervalSeconds: config.statusList.publishIntervalSeconds } : {}),
    ...(config.tpmManufacturerCas !== undefined ? { tpmManufacturerCas: readManufacturerCasFile(config.tpmManufacturerCas) } : {}),
    ...(config.sharedSignals ? { sharedSignals: sharedSignalsSettings(config.sharedSignals) } : {}),
    ...(config.metrics ? { metrics: metricsConfigFromFile(config.metrics) } : {}),
    ...(config.console ? { console: resolveConsoleSettings(config.console) } : {}),
  });
  onPolicy = (r) => {
    running.app.log[r.applied ? 'info' : 'warn']({ policy: r }, r.applied ? 'policy applied' : 'policy refused; the last good policy stays');
    running.service.policyReloaded(r).catch((e: unknown) => running.app.log.error({ err: e }, 'the policy change could not be audited'));
  };
  await running.app.listen({ host: config.listen.host, port: config.listen.port });
  return { close: () => running.close(), url: config.publicUrl };
}

/** The commands that run once and exit; null when `argv` asks to serve. */
async function runCommand(argv: readonly string[]): Promise<number | null> {
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  if (argv[0] === 'migrate') return runMigrate(argv.slice(1), process.env, print);
  if (argv[0] === 'audit') {
    if (argv[1] === 'verify') return runAuditVerify(argv.slice(2), print);
    print('usage: dta-service audit verify --config FILE [--checkpoint JWS]... [--json]');
    return 3;
  }
  if (argv[0] === 'break-glass') return runBreakGlass(argv.slice(1), { out: print, err: (line) => void process.stderr.write(`${line}\n`), now: () => Date.now() });
  return null;
}

/**
 * Whether this module is the script node was started with: compared as real paths, so a release
 * folder behind a symlink (/opt/dta/current) or a path with a space still runs the service.
 */
function startedAsScript(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (startedAsScript()) {
  const exitCode = await runCommand(process.argv.slice(2));
  if (exitCode !== null) process.exitCode = exitCode;
  else await serveUntilSignalled(process.argv.slice(2));
}

async function serveUntilSignalled(argv: readonly string[]): Promise<void> {
  const service = await runService(argv);
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    process.stderr.write(`dta-service: ${signal}, draining requests\n`);
    void service.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

// A shared clinical workstation for real on Linux: the machine's agent runs as root as its
// systemd unit would (no person's session, no keyring), inside a network namespace with its
// own nftables firewall (input dropped but loopback) and its own device trust service, with a
// root-only key file; ordinary local accounts (`useradd`) act as the signed-in people.
// Used by tests/integration/system-agent*.test.ts and scripts/shared-machine-soak.ts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NetNamespace } from './netns.js';
import { spawnService, type ServiceChild } from './service-process.js';
import { kitFolderPath } from './temp-folder.js';
import { waitUntil } from './wait.js';

export const ROOT = join(import.meta.dirname, '..', '..');
/** The two signed-in people. */
export const SHARED_MACHINE_USERS = ['dtanurse1', 'dtanurse2'] as const;
/** The agent's loopback port inside the namespace: the product's default, nothing else there holds it. */
export const SHARED_MACHINE_LOOPBACK_PORT = 47_100;

const FIREWALL = 'table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  iif "lo" accept\n }\n}';

export interface SharedMachineOptions {
  /** Web pages the agent serves tokens to (Origin -> audiences), as in the agent's configuration file. */
  readonly allowedOrigins?: Readonly<Record<string, readonly string[]>>;
  /** Audience -> URL prefixes its proofs may name. */
  readonly accessServices?: Readonly<Record<string, readonly string[]>>;
}

export interface SharedMachine {
  readonly users: readonly string[];
  readonly ns: NetNamespace;
  /** The service's URL, inside the namespace. */
  readonly serviceUrl: string;
  readonly serviceDir: string;
  /** The agent's configuration file (root, 0600, as IT deploys it). */
  readonly configPath: string;
  readonly dataDir: string;
  readonly ipcPath: string;
  readonly loopbackPort: number;
  /** The agent's output (--json), one parsed object a line; stderr as { stderr }. */
  readonly agentLines: readonly Record<string, unknown>[];
  /** Runs `argv` as an ordinary account through `su`, from the repository's folder; `inNamespace`: with the agent's network (its loopback). */
  asUser(user: string, argv: readonly string[], options?: { readonly inNamespace?: boolean }): ChildProcess;
  /** The audit log's actions and outcomes, read from the service's SQLite file. */
  auditActions(): { action: string; outcome: string }[];
  /** How many devices the service holds. */
  deviceCount(): number;
  /** Turns the namespace's firewall on (input dropped but loopback) or off (the ruleset flushed). */
  firewall(on: boolean): void;
  close(): Promise<void>;
}

export function sh(argv: readonly string[], input?: string): string {
  return execFileSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startSharedMachine(options: SharedMachineOptions = {}): Promise<SharedMachine> {
  if (process.getuid?.() !== 0) throw new Error('the shared machine runs as root (as CI does): the system agent is root and the kit makes local accounts');
  const made: string[] = [];
  for (const user of SHARED_MACHINE_USERS) {
    try {
      sh(['id', user]);
    } catch {
      sh(['useradd', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
      made.push(user);
    }
  }
  const work = kitFolderPath('dta-system-');
  chmodSync(work, 0o755);
  const ns = NetNamespace.create('dta-sys');
  let service: ServiceChild | undefined;
  let agent: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    await stopChild(agent);
    await stopChild(service?.child);
    ns.delete();
    for (const user of made) {
      try {
        sh(['userdel', user]);
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
  };
  try {
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    ns.nft(FIREWALL);

    const port = 18_000 + (process.pid % 2000);
    const serviceDir = join(work, 'service');
    service = spawnService(['--init', serviceDir, '--port', String(port)], { netns: ns.name, capture: true });
    const serviceLog = (): string => service?.log() ?? '';
    await waitUntil('the service', () => /Server listening/.test(serviceLog()), 90_000, () => serviceLog().slice(-500));
    // This machine's disk is not encrypted: give that check grace (as the demo does), so the
    // device starts with full access and the firewall decides the block.
    const policyPath = join(serviceDir, 'policy.yaml');
    writeFileSync(policyPath, readFileSync(policyPath, 'utf8').replace('version: 1', 'version: 2').replace(/disk-encryption: 0\b/, 'disk-encryption: 720'));
    await waitUntil('the policy edit', () => /policy applied/.test(serviceLog()), 10_000, () => serviceLog().slice(-500));

    const dataDir = join(work, 'agent-data');
    const ipcPath = join(work, 'run', 'dta', 'agent.sock');
    const configPath = join(work, 'agent.json');
    const serviceUrl = `http://127.0.0.1:${port}`;
    writeFileSync(configPath, JSON.stringify({
      serviceUrl,
      enrolmentSecret: readFileSync(join(serviceDir, 'enrolment-secret.txt'), 'utf8').trim(),
      dataDir,
      keyStorage: 'file',
      ipcPath,
      loopbackPort: SHARED_MACHINE_LOOPBACK_PORT,
      allowedOrigins: options.allowedOrigins ?? {},
      accessServices: options.accessServices ?? {},
      cadence: { fastSeconds: 1, fullSeconds: 120 },
    }), { mode: 0o600 });
    // As the unit runs it: root, no person's session, no keyring.
    const started = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'agent', '--config', configPath, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', ...(process.env.TMPDIR !== undefined ? { TMPDIR: process.env.TMPDIR } : {}) } });
    agent = started;
    const agentLines: Record<string, unknown>[] = [];
    let partial = '';
    started.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) agentLines.push(JSON.parse(l) as Record<string, unknown>);
    });
    started.stderr.on('data', (d: Buffer) => agentLines.push({ stderr: d.toString() }));
    await waitUntil('the agent to attest', () => agentLines.some((l) => l.state === 'compliant' || l.state === 'warning' || l.state === 'blocked'), 60_000, () => JSON.stringify(agentLines.slice(-5)));

    const readDb = <T>(read: (db: Database.Database) => T): T => {
      const db = new Database(join(serviceDir, 'service.db'), { readonly: true });
      try {
        return read(db);
      } finally {
        db.close();
      }
    };
    return {
      users: SHARED_MACHINE_USERS,
      ns,
      serviceUrl,
      serviceDir,
      configPath,
      dataDir,
      ipcPath,
      loopbackPort: SHARED_MACHINE_LOOPBACK_PORT,
      agentLines,
      asUser(user, argv, runOptions = {}) {
        const command = argv.map(quote).join(' ');
        const su = ['su', '-s', '/bin/bash', user, '-c', `cd ${quote(ROOT)} && ${command}`];
        const [file, ...args] = runOptions.inNamespace === true ? ['ip', 'netns', 'exec', ns.name, ...su] : su;
        return spawn(file ?? 'su', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      },
      auditActions: () => readDb((db) => db.prepare('SELECT action, outcome FROM audit').all() as { action: string; outcome: string }[]),
      deviceCount: () => readDb((db) => (db.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n),
      firewall(on) {
        if (on) ns.nft(FIREWALL);
        else ns.exec(['nft', 'flush', 'ruleset']);
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

// A PostgreSQL server of the test's own (Debian's binaries, a temporary cluster, a free
// port), so a test can restart it without disturbing the shared server other tests use.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { kitFolderPath } from './temp-folder.js';

const BIN = join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().at(-1) ?? '15', 'bin');

export interface PrivatePostgres {
  readonly url: string;
  /** Restarts the server without blocking this process: a service in it keeps answering (503) meanwhile. */
  restart(): Promise<void>;
  stop(): void;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = kitFolderPath('dta-pg-');
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const port = await freePort();
  const asPostgres = (args: string[]): void => void execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'ignore', cwd: '/tmp' });
  // --no-sync: initdb's flush of every file only guards against the OS crashing, and this
  // cluster is thrown away; on a busy disk it took seconds.
  asPostgres([join(BIN, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const ctlArgs = (action: string): string[] => ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), '-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`, ...(action === 'restart' ? ['-m', 'fast'] : action === 'stop' ? ['-m', 'immediate'] : []), action];
  const ctl = (action: string): void => void execFileSync('runuser', ctlArgs(action), { stdio: 'ignore', cwd: '/tmp' });
  ctl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: async () => void (await promisify(execFile)('runuser', ctlArgs('restart'), { cwd: '/tmp' })),
    stop: () => {
      // Immediate: the cluster is removed next, so its shutdown checkpoint (seconds of writes
      // with fsync on) would be thrown away; to a service still connected it is a failed server.
      ctl('stop');
      rmSync(dir, { recursive: true, force: true }); // the cluster is ~50 MB
    },
  };
}

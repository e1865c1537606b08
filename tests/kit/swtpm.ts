// A manufactured swtpm for tests: `swtpm_setup` writes its endorsement key certificate
// (and a platform certificate) with `swtpm_localca`, whose CA lives in this test's own temp
// folder instead of the system's /var/lib/swtpm-localca, then swtpm serves it on loopback
// TCP with no resource manager (like /dev/tpm0). Everything is removed by stop().
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { kitFolderPath } from './temp-folder.js';

export interface ManufacturedSwtpm {
  readonly tcti: string;
  /** The local CA's issuer certificate and root, PEM: what IT would configure as tpmManufacturerCas. */
  readonly manufacturerCasPem: string;
  stop(): Promise<void>;
}

export async function startManufacturedSwtpm(): Promise<ManufacturedSwtpm> {
  const root = kitFolderPath('dta-swtpm-ek-');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const orphan = (): void => {
    child?.kill('SIGKILL');
  };
  try {
    const state = join(root, 'state');
    const ca = join(root, 'ca');
    mkdirSync(state);
    mkdirSync(ca);
    writeFileSync(join(root, 'localca.conf'), `statedir = ${ca}\nsigningkey = ${ca}/signkey.pem\nissuercert = ${ca}/issuercert.pem\ncertserial = ${ca}/certserial\n`);
    writeFileSync(join(root, 'localca.options'), '--platform-manufacturer DTA-Test\n--platform-version 2.1\n--platform-model swtpm\n');
    writeFileSync(join(root, 'setup.conf'), `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${root}/localca.conf\ncreate_certs_tool_options = ${root}/localca.options\nactive_pcr_banks = sha256\n`);
    execFileSync('/usr/bin/swtpm_setup', ['--tpm2', '--tpmstate', state, '--create-ek-cert', '--create-platform-cert', '--config', join(root, 'setup.conf'), '--overwrite'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await freePortPair();
    child = spawn(
      '/usr/bin/swtpm',
      ['socket', '--tpm2', '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`, '--tpmstate', `dir=${state}`, '--flags', 'not-need-init,startup-clear'],
      { stdio: 'ignore' },
    );
    const running = child;
    exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    // Should the test runner exit before stop() runs, the simulator goes with it.
    process.once('exit', orphan);
    await waitForPort(port);
    const manufacturerCasPem = readFileSync(join(ca, 'issuercert.pem'), 'utf8') + readFileSync(join(ca, 'swtpm-localca-rootca-cert.pem'), 'utf8');
    return {
      tcti: `swtpm:host=127.0.0.1,port=${port}`,
      manufacturerCasPem,
      async stop() {
        running.kill('SIGTERM');
        await exited;
        process.off('exit', orphan);
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (e) {
    child?.kill('SIGKILL');
    await exited;
    process.off('exit', orphan);
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

/** A free port whose next port is free too (swtpm's server and control ports). */
export async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const next = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 1, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (next && port < 65535) return port;
  }
}

/** Waits until something listens on the loopback port (swtpm up). */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`swtpm did not listen on port ${port} within ${ms} ms`);
}

// A throwaway network namespace (ip netns) for tests of the real firewall; a pair of them joined
// by a veth link (IPv4 and IPv6) to see whether a connection really gets through.
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CheckResult } from '../../common/posture.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import type { CommandRunner } from '../../main/posture/command-runner.js';
import { runPosture } from '../../main/posture/engine.js';
import { createLiveProbeSource } from '../../main/posture/live-probe-source.js';
import { allowedCommands, checksFor } from '../../main/posture/platform.js';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const IP = '/usr/sbin/ip';

/** What a connection attempt from one namespace to another came to. */
export type ConnectOutcome = 'connected' | 'refused' | 'timed out' | 'unreachable';

export type RulesFormat = 'nft' | 'iptables' | 'ip6tables' | 'iptables-legacy' | 'ip6tables-legacy';

const RESTORE = new Map<RulesFormat, readonly string[]>([
  ['nft', ['nft', '-f', '-']],
  ['iptables', ['iptables-nft-restore']],
  ['ip6tables', ['ip6tables-nft-restore']],
  ['iptables-legacy', ['iptables-legacy-restore']],
  ['ip6tables-legacy', ['ip6tables-legacy-restore']],
]);

/**
 * A workstation's firewall: input dropped, except loopback and replies. The agent's firewall
 * check passes on it until the ruleset is flushed (`nft flush ruleset`).
 */
export const WORKSTATION_FIREWALL = `table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
  }
}`;

export class NetNamespace {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** A handle on a namespace by name, for namespaces made some other way (`linkedPair`). */
  static named(name: string): NetNamespace {
    return new NetNamespace(name);
  }

  static create(prefix = 'dta'): NetNamespace {
    const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    execFileSync('ip', ['netns', 'add', name]);
    return new NetNamespace(name);
  }

  /** A new namespace with loopback up and WORKSTATION_FIREWALL loaded; deleted again if that fails. */
  static withWorkstationFirewall(prefix: string): NetNamespace {
    const ns = NetNamespace.create(prefix);
    try {
      ns.exec(['ip', 'link', 'set', 'lo', 'up']);
      ns.nft(WORKSTATION_FIREWALL);
    } catch (e) {
      ns.delete();
      throw e;
    }
    return ns;
  }

  exec(argv: readonly string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, ...argv], { input, encoding: 'utf8' });
  }

  /** The same as `exec`, without blocking the test process (for namespaces worked on side by side). */
  async execAsync(argv: readonly string[], input?: string): Promise<string> {
    if (input === undefined) return (await run('ip', ['netns', 'exec', this.name, ...argv], { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024 })).stdout;
    return new Promise((resolve, reject) => {
      const child = execFile('ip', ['netns', 'exec', this.name, ...argv], { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${argv.join(' ')} failed in ${this.name}: ${stderr || error.message}`)) : resolve(stdout),
      );
      child.stdin?.end(input);
    });
  }

  nft(ruleset: string): void {
    this.exec(['nft', '-f', '-'], ruleset);
  }

  /** Loads rules as the tool that writes them would: `nft -f`, iptables-nft-restore, iptables-legacy-restore … */
  async load(format: RulesFormat, rules: string): Promise<void> {
    await this.execAsync(RESTORE.get(format) ?? [], rules);
  }

  /** Runs one posture check with the agent's own code inside this namespace. */
  runCheck(id: string): CheckResult {
    const out = this.exec([process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'kit', 'run-posture-check.ts'), id]);
    return JSON.parse(out) as CheckResult;
  }

  async runCheckAsync(id: string): Promise<CheckResult> {
    const out = await this.execAsync([process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'kit', 'run-posture-check.ts'), id]);
    return JSON.parse(out) as CheckResult;
  }

  /**
   * Runs one Linux posture check in this process with the agent's own engine, probes and runner,
   * each command started inside this namespace through `ip netns exec` (no second Node process to
   * start, so many namespaces can be checked side by side). /proc/net is per network namespace
   * (a link to /proc/self/net): file probes there read /proc/PID/net of a process held inside this
   * namespace for the check, the rest this process's files.
   * The deadline is the policy's, longer by default: namespaces checked side by side on a busy
   * machine must not time out, since the verdict is what is tested here, not the speed.
   */
  async runCheckInside(id: string, deadlineMs = 30_000): Promise<CheckResult> {
    const check = checksFor('linux').find((c) => c.id === id);
    if (!check) throw new Error(`no Linux check ${id}`);
    const inner = createCommandRunner({ allowList: new Set([...allowedCommands('linux'), IP]) });
    const runner: CommandRunner = { run: (request) => inner.run({ ...request, argv: [IP, 'netns', 'exec', this.name, ...request.argv] }) };
    const inside = await this.filesInside();
    try {
      const source = createLiveProbeSource({ runner, filePath: inside.filePath });
      const { report } = await runPosture({ platform: 'linux', checks: [check], source, policy: { ...defaultPosturePolicy(), checkDeadlineMs: deadlineMs }, now: () => new Date() });
      const result = report.checks[0];
      if (!result) throw new Error(`the check ${id} gave no result`);
      return result;
    } finally {
      inside.stop();
    }
  }

  /**
   * Where a probe source in this process reads a file as a process inside this namespace would:
   * /proc/net (a link to /proc/self/net, per network namespace) becomes /proc/PID/net of a process
   * held inside it until `stop()`; other paths are read as they are. `ip netns exec` enters the
   * namespace and then replaces itself with the command, so once that command has printed, its pid
   * is inside; checked against the namespace's own inode, so a read never lands in another one.
   */
  async filesInside(): Promise<{ readonly filePath: (path: string) => string; readonly stop: () => void }> {
    const child = spawn(IP, ['netns', 'exec', this.name, '/bin/sh', '-c', 'echo in; exec sleep 600'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stop = (): void => {
      child.kill('SIGKILL');
    };
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout?.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the process held in ${this.name} exited with ${String(code)}`)));
        child.once('error', reject);
      });
      const pid = child.pid;
      if (pid === undefined || statSync(`/proc/${String(pid)}/ns/net`).ino !== statSync(`/run/netns/${this.name}`).ino) throw new Error(`the process held for ${this.name} is not inside it`);
      const filePath = (path: string): string => (path.startsWith('/proc/net/') ? `/proc/${String(pid)}/net/${path.slice('/proc/net/'.length)}` : path);
      return { filePath, stop };
    } catch (e) {
      stop();
      throw e;
    }
  }

  /**
   * A TCP server on `port` of every address (IPv4 and IPv6) in this namespace, answering each
   * connection and closing it. Resolves once it listens; `stop()` ends it.
   */
  async listen(port: number): Promise<{ stop(): void }> {
    const script = `require('node:net').createServer((s) => { s.on('error', () => {}); s.end('hi'); }).listen({ port: ${String(port)}, host: '::', ipv6Only: false }, () => console.log('listening'))`;
    const child: ChildProcess = spawn('ip', ['netns', 'exec', this.name, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the listener in ${this.name} exited with ${String(code)}`)));
    });
    return { stop: () => child.kill() };
  }

  /** Tries a TCP connection from this namespace to each address; a SYN that gets no answer is `timed out`. */
  async connect(addresses: readonly string[], port: number, timeoutMs = 1500): Promise<ConnectOutcome[]> {
    const script = `
      const net = require('node:net');
      const one = (host) => new Promise((resolve) => {
        const s = net.connect({ host, port: ${String(port)} });
        const done = (what) => { s.destroy(); resolve(what); };
        s.setTimeout(${String(timeoutMs)}, () => done('timed out'));
        s.once('connect', () => done('connected'));
        s.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ETIMEDOUT' ? 'timed out' : 'unreachable'));
      });
      Promise.all(${JSON.stringify(addresses)}.map(one)).then((r) => console.log(JSON.stringify(r)));`;
    return JSON.parse(await this.execAsync([process.execPath, '-e', script])) as ConnectOutcome[];
  }

  delete(): void {
    execFileSync('ip', ['netns', 'delete', this.name]);
  }
}

export interface LinkedPair {
  /** The machine under test: its firewall is loaded here, the check runs here. */
  readonly server: NetNamespace;
  /** Another host on the same link, with no firewall. */
  readonly client: NetNamespace;
  readonly serverIpv4: string;
  readonly serverIpv6: string;
  delete(): void;
}

/**
 * Two namespaces joined by a veth link, numbered `index` so several pairs can exist at once:
 * the server is 10.77.<index>.1 and fd77:<index>::1, the client .2 and ::2 (IPv6 without
 * duplicate address detection, so the addresses work at once).
 */
export async function linkedPair(prefix: string, index: number): Promise<LinkedPair> {
  const id = `${String(process.pid)}-${String(index)}`;
  const server = NetNamespace.named(`${prefix}-s-${id}`);
  const client = NetNamespace.named(`${prefix}-c-${id}`);
  const link = `dta${String(process.pid % 10000)}x${String(index)}`;
  // One `ip -batch` per namespace instead of a dozen `ip` calls: namespaces are made side by side.
  const batch = async (args: readonly string[], lines: readonly string[]): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(IP, [...args, '-batch', '-'], (error, _out, stderr) => (error ? reject(new Error(`ip -batch failed: ${stderr || error.message}`)) : resolve()));
      child.stdin?.end(`${lines.join('\n')}\n`);
    });
  };
  await batch([], [`netns add ${server.name}`, `netns add ${client.name}`, `link add ${link}s netns ${server.name} type veth peer name ${link}c netns ${client.name}`]);
  const sides: readonly { ns: NetNamespace; dev: string; host: string }[] = [
    { ns: server, dev: `${link}s`, host: '1' },
    { ns: client, dev: `${link}c`, host: '2' },
  ];
  await Promise.all(
    sides.map(({ ns, dev, host }) =>
      batch(['-n', ns.name], ['link set lo up', `addr add 10.77.${String(index)}.${host}/24 dev ${dev}`, `addr add fd77:${String(index)}::${host}/64 dev ${dev} nodad`, `link set ${dev} up`]),
    ),
  );
  return {
    server,
    client,
    serverIpv4: `10.77.${String(index)}.1`,
    serverIpv6: `fd77:${String(index)}::1`,
    delete: () => {
      server.delete();
      client.delete();
    },
  };
}

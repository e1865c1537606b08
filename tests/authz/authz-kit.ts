// What the dta-authz tests share: Debian's real nginx run from a test's folder, a plain
// upstream that echoes the headers it got, dta-authz as its own process (bin/dta-authz.mjs), and
// requests whose target is sent exactly as written (fetch would normalise "/a/../b" first).
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitUntil } from '../kit/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const NGINX = '/usr/sbin/nginx';

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** A request with the target sent as written; `headers` may repeat a name as an array. */
export function rawRequest(base: string, method: string, target: string, headers: Record<string, string | string[]> = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path: target, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Ends a child process and waits for it; also at this process's exit, should a test fail first. */
function owned(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const orphan = (): void => void child.kill('SIGKILL');
  process.once('exit', orphan);
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    process.off('exit', orphan);
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface EchoUpstream {
  readonly url: string;
  /** Every request it got: method, target as received, headers. */
  readonly seen: { method: string; target: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** The protected application: answers every request with the method, target and headers it got. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const seen: EchoUpstream['seen'] = [];
  const server: Server = createServer((req, res) => {
    const got = { method: req.method ?? '', target: req.url ?? '', headers: req.headers };
    seen.push(got);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(got));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RunningNginx {
  readonly url: string;
  log(): string;
  close(): Promise<void>;
}

/**
 * nginx in the foreground (daemon off, one process: master_process off) with its pid, logs and
 * temporary files in `prefix`, listening on `port` of loopback; `server` is the server block's
 * body. It runs as the test's account (root here), so no worker needs to reach the test folder.
 */
export async function startNginx(prefix: string, port: number, server: string): Promise<RunningNginx> {
  for (const dir of ['logs', 'temp']) mkdirSync(join(prefix, dir), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log info;
events { worker_connections 64; }
http {
  access_log ${prefix}/logs/access.log;
  client_body_temp_path ${prefix}/temp/body;
  proxy_temp_path ${prefix}/temp/proxy;
  fastcgi_temp_path ${prefix}/temp/fastcgi;
  uwsgi_temp_path ${prefix}/temp/uwsgi;
  scgi_temp_path ${prefix}/temp/scgi;
  server {
    listen 127.0.0.1:${port};
${server}
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', `${prefix}/`, '-c', conf, '-e', `${prefix}/logs/error.log`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const stop = owned(child);
  let listening = false;
  try {
    for (let i = 0; i < 200 && !listening && child.exitCode === null; i++) {
      listening = await canConnect(port);
      if (!listening) await new Promise((r) => setTimeout(r, 50));
    }
    if (!listening) throw new Error(`nginx did not listen on ${port}: ${log.slice(-800)}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, log: () => log, close: stop };
}

export interface AuthzProcess {
  /** What it printed on stdout, one parsed JSON object per line. */
  lines(): Record<string, unknown>[];
  stderr(): string;
  exited(): Promise<number | null>;
  close(): Promise<void>;
}

/** `dta-authz ARGS` as its own process, through its bin, started as an administrator would. */
export function spawnAuthz(args: readonly string[]): AuthzProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'dta-authz.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
    exited: () => exit,
    close: owned(child),
  };
}

/** Starts dta-authz with `configPath` and waits until every listener listens. */
export async function startAuthzProcess(configPath: string, listeners = 1): Promise<AuthzProcess> {
  const authz = spawnAuthz(['--config', configPath]);
  let exitCode: number | null | undefined;
  void authz.exited().then((code) => (exitCode = code));
  try {
    await waitUntil('dta-authz to listen', () => exitCode !== undefined || authz.lines().filter((l) => l.event === 'listening').length === listeners, 30_000, () => authz.stderr());
    if (exitCode !== undefined) throw new Error(`dta-authz exited with ${String(exitCode)}: ${authz.stderr()}`);
  } catch (e) {
    await authz.close();
    throw e;
  }
  return authz;
}

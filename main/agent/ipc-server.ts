// The system agent's local IPC endpoint: one for the machine, for every signed-in person's
// tray and for `dta status`. A Unix domain socket in a root-owned folder (any local account
// may connect, none may replace it) or a named pipe on Windows. Every request is
// schema-checked; oversized, malformed or too frequent requests get typed errors, and a
// client that keeps sending them is disconnected; the agent itself never stops for them.
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { AgentStatus, IpcErrorCode, IpcRequest, IpcResponse, SupportBundleResult } from '../../common/agent-ipc.js';
import { IPC_MAX_REQUEST_BYTES, IPC_PROTOCOL, IpcRequestSchema } from '../../common/agent-ipc.js';
import { AgentError } from '../../common/errors.js';
import { schemaIssues } from '../../common/validate.js';

export interface IpcHandlers {
  status(): AgentStatus;
  /** Calls `listener` on every change; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
  checkNow(): Promise<void>;
  supportBundle(): Promise<SupportBundleResult>;
}

export interface IpcServerOptions {
  /** A socket path, or `\\.\pipe\NAME` on Windows. */
  readonly path: string;
  readonly handlers: IpcHandlers;
  readonly agentVersion: string;
  readonly now?: () => number;
  readonly limits?: Partial<IpcLimits>;
}

export interface IpcLimits {
  /** Open connections at once (a terminal server has dozens of sessions, each a tray). */
  maxConnections: number;
  /** Requests per connection per window. */
  requestsPerWindow: number;
  windowMs: number;
  /** A connection's "check now" at most this often; more answer IPC_RATE_LIMITED. */
  checkNowIntervalMs: number;
  /** The whole machine's support bundles at most this often (each runs every probe). */
  bundleIntervalMs: number;
  /** Refusals on one connection before it is closed. */
  maxRefusals: number;
  /** Unsent bytes to one client before it is dropped as too slow. */
  maxBacklogBytes: number;
}

const DEFAULT_LIMITS: IpcLimits = { maxConnections: 256, requestsPerWindow: 30, windowMs: 10_000, checkNowIntervalMs: 10_000, bundleIntervalMs: 30_000, maxRefusals: 20, maxBacklogBytes: 1024 * 1024 };

export interface IpcServer {
  readonly path: string;
  connections(): number;
  close(): Promise<void>;
}

export async function startIpcServer(options: IpcServerOptions): Promise<IpcServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const isPipe = options.path.startsWith('\\\\.\\pipe\\');
  let lastBundleAt = -Infinity;
  const sockets = new Set<Socket>();

  const server: Server = createServer((socket) => {
    if (sockets.size >= limits.maxConnections) {
      socket.end(line({ v: IPC_PROTOCOL, id: null, ok: false, error: { code: 'IPC_BUSY', message: 'Too many clients are connected to the agent; try again shortly.' } }));
      return;
    }
    sockets.add(socket);
    serve(socket);
  });

  function serve(socket: Socket): void {
    let buffer = '';
    let refusals = 0;
    let windowStart = now();
    let inWindow = 0;
    let lastCheckAt = -Infinity;
    let unsubscribe: (() => void) | null = null;
    const send = (message: IpcResponse): void => {
      if (socket.destroyed) return;
      if (socket.writableLength > limits.maxBacklogBytes) {
        socket.destroy(); // a client that does not read must not hold the agent's memory
        return;
      }
      socket.write(line(message));
    };
    const refuse = (id: number | null, code: IpcErrorCode, message: string): void => {
      send({ v: IPC_PROTOCOL, id, ok: false, error: { code, message } });
      if (++refusals >= limits.maxRefusals) socket.end();
    };
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      unsubscribe?.();
      sockets.delete(socket);
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (text.trim() !== '') handle(text);
        if (socket.destroyed || socket.writableEnded) return;
      }
      if (Buffer.byteLength(buffer) > IPC_MAX_REQUEST_BYTES) {
        buffer = '';
        send({ v: IPC_PROTOCOL, id: null, ok: false, error: { code: 'IPC_TOO_LARGE', message: `A request may hold at most ${IPC_MAX_REQUEST_BYTES} bytes.` } });
        socket.end();
      }
    });

    function handle(text: string): void {
      if (Buffer.byteLength(text) > IPC_MAX_REQUEST_BYTES) return refuse(null, 'IPC_TOO_LARGE', `A request may hold at most ${IPC_MAX_REQUEST_BYTES} bytes.`);
      const t = now();
      if (t - windowStart >= limits.windowMs) {
        windowStart = t;
        inWindow = 0;
      }
      if (++inWindow > limits.requestsPerWindow) return refuse(null, 'IPC_RATE_LIMITED', 'Too many requests; slow down.');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return refuse(null, 'IPC_MALFORMED', 'A request must be one JSON object per line.');
      }
      const fields = typeof value === 'object' && value !== null ? (value as { v?: unknown; id?: unknown }) : {};
      const id = typeof fields.id === 'number' && Number.isInteger(fields.id) && fields.id >= 0 && fields.id <= 2 ** 31 ? fields.id : null;
      if ('v' in fields && fields.v !== IPC_PROTOCOL) return refuse(id, 'IPC_PROTOCOL', `This agent speaks IPC protocol ${IPC_PROTOCOL} (agent ${options.agentVersion}).`);
      const issues = schemaIssues(IpcRequestSchema, value, 3);
      if (issues.length > 0) return refuse(id, 'IPC_MALFORMED', `Not a valid request: ${issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}.`.slice(0, 900));
      void dispatch(value as IpcRequest, t);
    }

    async function dispatch(request: IpcRequest, t: number): Promise<void> {
      const ok = (result: unknown): void => send({ v: IPC_PROTOCOL, id: request.id, ok: true, result });
      switch (request.method) {
        case 'hello':
          return ok({ protocol: IPC_PROTOCOL, agentVersion: options.agentVersion });
        case 'get-status':
          return ok(options.handlers.status());
        case 'subscribe':
          unsubscribe ??= options.handlers.subscribe(() => send({ v: IPC_PROTOCOL, event: 'status', status: options.handlers.status() }));
          return ok(options.handlers.status());
        case 'check-now': {
          if (t - lastCheckAt < limits.checkNowIntervalMs) return refuse(request.id, 'IPC_RATE_LIMITED', `A check was asked for moments ago; ask again in ${Math.ceil((limits.checkNowIntervalMs - (t - lastCheckAt)) / 1000)} s.`);
          lastCheckAt = t;
          try {
            await options.handlers.checkNow();
          } catch (e) {
            return refuse(request.id, 'IPC_FAILED', e instanceof Error ? e.message.slice(0, 500) : 'The check failed.');
          }
          return ok(options.handlers.status());
        }
        case 'support-bundle': {
          if (t - lastBundleAt < limits.bundleIntervalMs) return refuse(request.id, 'IPC_RATE_LIMITED', 'A support bundle was made moments ago; try again in half a minute.');
          lastBundleAt = t;
          try {
            return ok(await options.handlers.supportBundle());
          } catch (e) {
            return refuse(request.id, 'IPC_FAILED', e instanceof Error ? e.message.slice(0, 500) : 'The support bundle failed.');
          }
        }
      }
    }
  }

  try {
    if (!isPipe) await prepareSocketPath(options.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // On Windows this opens the pipe to every local account (its default lets them read only).
      server.listen({ path: options.path, readableAll: true, writableAll: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Every local account may connect (each person's tray: 0666, where listen's own option
    // gives 0766); only the agent's account owns the folder, so nobody else can remove the
    // socket and put their own in its place.
    if (!isPipe) await chmod(options.path, 0o666);
  } catch (e) {
    server.close();
    if (e instanceof AgentError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    // A named pipe in use is another agent; anything else is where the endpoint was put.
    if (code === 'EADDRINUSE') throw new AgentError('AGENT_RUNNING', `Another agent already serves ${options.path}: one agent per machine.`, { cause: e });
    throw new AgentError('CONFIG_INVALID', `The agent cannot open its local endpoint ${options.path} (${code === 'EACCES' ? 'permission denied: the system agent runs as root / SYSTEM' : (e as Error).message}). Check ipcPath in the agent's configuration.`, { cause: e });
  }
  return {
    path: options.path,
    connections: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function line(message: IpcResponse): string {
  return `${JSON.stringify(message)}\n`;
}

/** Makes the socket's folder (0755) and removes a stale socket; refuses to start beside a running agent. */
async function prepareSocketPath(path: string): Promise<void> {
  // Made here only outside the service unit (which makes /run/dta itself): the process's umask
  // (the unit's is 0077) must not leave it closed to the trays.
  const made = await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  if (made !== undefined) await chmod(dirname(path), 0o755);
  let existing;
  try {
    existing = await lstat(path);
  } catch {
    return;
  }
  if (!existing.isSocket()) throw new AgentError('CONFIG_INVALID', `${path} exists and is not a socket; the agent will not replace it.`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new AgentError('AGENT_RUNNING', `Another agent already serves ${path}: one agent per machine.`);
  await rm(path, { force: true });
}

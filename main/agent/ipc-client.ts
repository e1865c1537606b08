// The client side of the agent's local IPC (common/agent-ipc.ts): `dta status` asks once;
// each person's tray keeps a link that follows the agent's status, reconnects with backoff
// after the agent stops or restarts (an update, a crash), and says in plain words when
// there is no agent or one of another version. Every message from the agent is
// schema-checked before it is believed.
import { createConnection, type Socket } from 'node:net';
import type { AgentStatus, HelloResult, IpcErrorCode, IpcMethod, IpcResponse, SupportBundleResult } from '../../common/agent-ipc.js';
import { AgentStatusSchema, HelloResultSchema, IPC_MAX_MESSAGE_BYTES, IPC_PROTOCOL, IpcResponseSchema, SupportBundleResultSchema } from '../../common/agent-ipc.js';
import type { AgentState } from '../../common/agent-state.js';
import { AgentError } from '../../common/errors.js';
import type { Locale } from '../../common/ipc.js';
import { isValid } from '../../common/validate.js';

/** A refusal the agent sent (rate limited, malformed, …), with its IPC code. */
export class IpcRefusal extends Error {
  override readonly name = 'IpcRefusal';
  readonly code: IpcErrorCode;

  constructor(code: IpcErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** One connection: requests matched to responses by id, status events to a listener. */
export class IpcConnection {
  private readonly socket: Socket;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private buffer = '';
  private closedError: Error | null = null;
  onStatus: ((status: AgentStatus) => void) | null = null;
  onClose: ((error: Error) => void) | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (e) => this.fail(new AgentError('AGENT_UNAVAILABLE', `The device trust agent cannot be reached: ${e.message}`, { cause: e })));
    socket.on('close', () => this.fail(new AgentError('AGENT_UNAVAILABLE', 'The device trust agent closed the connection.')));
  }

  static open(path: string, timeoutMs = 5000): Promise<IpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new AgentError('AGENT_UNAVAILABLE', `The device trust agent did not answer at ${path}.`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new IpcConnection(socket));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = e.code === 'ENOENT' ? 'it is not running (no socket)' : e.code === 'ECONNREFUSED' ? 'it is not running' : e.code === 'EACCES' ? 'this account may not connect to it' : e.message;
        reject(new AgentError('AGENT_UNAVAILABLE', `The device trust agent cannot be reached at ${path}: ${why}.`, { cause: e }));
      });
    });
  }

  request(method: IpcMethod, timeoutMs = 10_000): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AgentError('AGENT_UNAVAILABLE', `The device trust agent did not answer "${method}" in time.`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${JSON.stringify({ v: IPC_PROTOCOL, id, method })}\n`);
    });
  }

  close(): void {
    this.onClose = null;
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > IPC_MAX_MESSAGE_BYTES) return this.protocolError('The agent sent a message larger than allowed.');
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const text = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        return this.protocolError('The agent sent something that is not JSON.');
      }
      if (!isValid(IpcResponseSchema, message)) return this.protocolError('The agent sent a message outside the IPC contract (another version?).');
      this.dispatch(message);
    }
  }

  private dispatch(message: IpcResponse): void {
    if ('event' in message) {
      this.onStatus?.(message.status);
      return;
    }
    const waiter = message.id === null ? undefined : this.pending.get(message.id);
    if (message.id !== null) this.pending.delete(message.id);
    if (message.ok) waiter?.resolve(message.result);
    else if (waiter) waiter.reject(new IpcRefusal(message.error.code, message.error.message));
    else if (message.error.code === 'IPC_BUSY' || message.error.code === 'IPC_TOO_LARGE') this.fail(new IpcRefusal(message.error.code, message.error.message));
  }

  private protocolError(message: string): void {
    this.fail(new AgentError('AGENT_VERSION_MISMATCH', message));
    this.socket.destroy();
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const w of this.pending.values()) w.reject(error);
    this.pending.clear();
    this.onClose?.(error);
  }
}

/** Checks the agent speaks our protocol; AGENT_VERSION_MISMATCH otherwise. */
export async function hello(connection: IpcConnection): Promise<HelloResult> {
  let result: unknown;
  try {
    result = await connection.request('hello');
  } catch (e) {
    if (e instanceof IpcRefusal && (e.code === 'IPC_PROTOCOL' || e.code === 'IPC_MALFORMED')) throw new AgentError('AGENT_VERSION_MISMATCH', `The device trust agent speaks another version of the local protocol: ${e.message}`);
    throw e;
  }
  if (!isValid(HelloResultSchema, result) || result.protocol !== IPC_PROTOCOL) throw new AgentError('AGENT_VERSION_MISMATCH', 'The device trust agent speaks another version of the local protocol.');
  return result;
}

function asStatus(value: unknown): AgentStatus {
  if (!isValid(AgentStatusSchema, value)) throw new AgentError('AGENT_VERSION_MISMATCH', 'The device trust agent answered with a status this version does not understand.');
  return value;
}

/** One status, for `dta status`. */
export async function fetchAgentStatus(path: string, timeoutMs = 5000): Promise<AgentStatus> {
  const connection = await IpcConnection.open(path, timeoutMs);
  try {
    await hello(connection);
    return asStatus(await connection.request('get-status', timeoutMs));
  } finally {
    connection.close();
  }
}

export type LinkState = 'connecting' | 'connected' | 'unavailable' | 'version-mismatch';

export interface AgentLink {
  /** The agent's status, or a status that says in plain words why there is none. */
  status(): AgentStatus;
  linkState(): LinkState;
  subscribe(listener: (status: AgentStatus) => void): () => void;
  checkNow(): Promise<AgentStatus>;
  supportBundle(): Promise<SupportBundleResult>;
  close(): void;
}

export interface AgentLinkOptions {
  readonly path: string;
  readonly locale: Locale;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  readonly now?: () => Date;
}

/** A tray's lasting link to the machine's agent; it never gives up reconnecting. */
export function linkToAgent(options: AgentLinkOptions): AgentLink {
  const retry = options.retry ?? { initialMs: 1000, maxMs: 30_000 };
  const now = options.now ?? (() => new Date());
  const listeners = new Set<(status: AgentStatus) => void>();
  let state: LinkState = 'connecting';
  let current: AgentStatus = unavailableStatus(options.locale, 'connecting', now());
  let connection: IpcConnection | null = null;
  let timer: NodeJS.Timeout | null = null;
  let attempt = 0;
  let closed = false;

  const publish = (status: AgentStatus): void => {
    current = status;
    for (const l of listeners) l(status);
  };
  const lost = (why: Exclude<LinkState, 'connected'>): void => {
    connection = null;
    if (closed) return;
    // Said once per outage, not again on every retry.
    if (state !== why) {
      state = why;
      publish(unavailableStatus(options.locale, why, now()));
    }
    const delay = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(attempt++, 10));
    timer = setTimeout(() => void connect(), delay);
  };
  const connect = async (): Promise<void> => {
    timer = null;
    let c: IpcConnection;
    try {
      c = await IpcConnection.open(options.path);
    } catch {
      return lost('unavailable');
    }
    if (closed) return c.close();
    connection = c;
    c.onStatus = (s) => publish(s);
    c.onClose = (e) => lost(e instanceof AgentError && e.code === 'AGENT_VERSION_MISMATCH' ? 'version-mismatch' : 'unavailable');
    try {
      await hello(c);
      const first = asStatus(await c.request('subscribe'));
      attempt = 0;
      state = 'connected';
      publish(first);
    } catch (e) {
      c.onClose = null;
      c.close();
      lost(e instanceof AgentError && e.code === 'AGENT_VERSION_MISMATCH' ? 'version-mismatch' : 'unavailable');
    }
  };
  void connect();

  const live = (): IpcConnection => {
    if (!connection || state !== 'connected') throw new AgentError('AGENT_UNAVAILABLE', current.agent.reason);
    return connection;
  };
  return {
    status: () => current,
    linkState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async checkNow() {
      return asStatus(await live().request('check-now', 120_000));
    },
    async supportBundle() {
      const result = await live().request('support-bundle', 180_000);
      if (!isValid(SupportBundleResultSchema, result)) throw new AgentError('AGENT_VERSION_MISMATCH', 'The agent sent a support bundle this version does not understand.');
      return result;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      connection?.close();
    },
  };
}

const WORDS: Record<Locale, Record<Exclude<LinkState, 'connected'>, { reason: string; next: string }>> = {
  en: {
    connecting: { reason: 'Connecting to the device trust agent.', next: 'This takes a moment.' },
    unavailable: { reason: 'The device trust agent of this computer is not running, so this device\'s access cannot be checked. Patient data may be blocked.', next: 'Retrying on its own. If this stays, restart the computer or call IT.' },
    'version-mismatch': { reason: 'The device trust agent of this computer is another version than this app (an update is under way or failed).', next: 'Retrying on its own. If this stays, restart the computer or call IT.' },
  },
  de: {
    connecting: { reason: 'Verbindung zum Device-Trust-Agenten wird hergestellt.', next: 'Das dauert einen Moment.' },
    unavailable: { reason: 'Der Device-Trust-Agent dieses Computers läuft nicht, daher kann der Zugang dieses Geräts nicht geprüft werden. Patientendaten können gesperrt sein.', next: 'Es wird automatisch erneut versucht. Bleibt es so, starten Sie den Computer neu oder rufen Sie die IT an.' },
    'version-mismatch': { reason: 'Der Device-Trust-Agent dieses Computers hat eine andere Version als diese App (ein Update läuft oder ist fehlgeschlagen).', next: 'Es wird automatisch erneut versucht. Bleibt es so, starten Sie den Computer neu oder rufen Sie die IT an.' },
  },
};

/** The status a tray shows when it has no agent to ask. */
export function unavailableStatus(locale: Locale, why: Exclude<LinkState, 'connected'>, at: Date): AgentStatus {
  const w = WORDS[locale][why];
  const agent: AgentState = {
    state: why === 'connecting' ? 'starting' : 'error',
    reason: w.reason,
    nextAction: w.next,
    since: at.toISOString(),
    tier: null,
    tokenExpiresAt: null,
    graceUntil: null,
    lastCheckAt: null,
    deviceId: null,
    errorCode: why === 'connecting' ? null : why === 'unavailable' ? 'AGENT_UNAVAILABLE' : 'AGENT_VERSION_MISMATCH',
    report: null,
  };
  return { agent, agentVersion: '', keyProtection: null, keyStorage: null, serviceUrl: '' };
}

// Keeps the loopback token endpoint up for the running agent. When its port is taken (another
// program, or an agent that has not let go of it yet) the agent must not end: a service
// manager would restart it every few seconds for as long as the port stays taken, and each
// restart cuts off every tray. Only the web pages lose their token meanwhile, so the endpoint
// is tried again with capped backoff while IPC and attestation go on, and the problem is
// shown to the trays and `dta status` until the port is free.
import type { AgentLog } from './agent.js';
import type { BackoffPolicy } from './backoff.js';
import { backoffDelay } from './backoff.js';
import type { TokenEndpoint, TokenEndpointOptions } from './token-endpoint.js';
import { LoopbackPortTaken, startTokenEndpoint } from './token-endpoint.js';

/** From about a second up to ten: a freed port is found within seconds, and a squatter costs one bind (no log line) every few seconds. */
export const LOOPBACK_RETRY: BackoffPolicy = { initialMs: 1000, maxMs: 10_000 };

export interface TokenEndpointKeeper {
  /** Why web pages get no token now, or null while the endpoint listens. */
  problem(): LoopbackPortTaken | null;
  close(): Promise<void>;
}

export interface KeepOptions {
  readonly log: AgentLog;
  /** The endpoint is listening (at first or after a retry). */
  readonly onListening: (port: number) => void;
  /** problem() changed. */
  readonly onChange: () => void;
  readonly retry?: BackoffPolicy;
  readonly random?: () => number;
}

/**
 * Starts the endpoint; a taken port is not an error of the caller but a state with retries.
 * Any other failure (a bug) is thrown as before, so it is not retried blindly.
 */
export async function keepTokenEndpoint(endpoint: TokenEndpointOptions, options: KeepOptions): Promise<TokenEndpointKeeper> {
  let running: TokenEndpoint | null = null;
  let problem: LoopbackPortTaken | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let attempt = 0;

  const tryStart = async (): Promise<void> => {
    try {
      const started = await startTokenEndpoint(endpoint);
      if (closed) {
        await started.close();
        return;
      }
      running = started;
      if (problem !== null) options.log.info('loopback-listening', { port: started.port, afterAttempts: attempt });
      problem = null;
      attempt = 0;
      options.onListening(started.port);
      options.onChange();
    } catch (e) {
      if (!(e instanceof LoopbackPortTaken)) throw e;
      const first = problem === null;
      problem = e;
      const delay = Math.max(250, backoffDelay(attempt++, options.retry ?? LOOPBACK_RETRY, options.random));
      // Logged once per outage of the port, then at each doubling: not a line a second for hours.
      if (first || Number.isInteger(Math.log2(attempt))) options.log.warn('loopback-unavailable', { code: e.code, port: e.port, message: e.message, retryInMs: delay, attempts: attempt });
      if (first) options.onChange();
      timer = setTimeout(() => {
        timer = null;
        tryStart().catch((err: unknown) => options.log.warn('loopback-failed', { message: err instanceof Error ? err.message : String(err) }));
      }, delay);
      timer.unref();
    }
  };
  await tryStart();

  return {
    problem: () => problem,
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      await running?.close();
    },
  };
}

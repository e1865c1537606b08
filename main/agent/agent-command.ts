// `dta agent` (the machine's one agent, run as a service), `dta status` (any local account
// asks it) and `dta token` (for native clients).
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentConfig } from '../../common/agent-config.js';
import type { AgentStatus } from '../../common/agent-ipc.js';
import type { AgentState } from '../../common/agent-state.js';
import { AGENT_ERROR_CODES, AgentError, isAgentError } from '../../common/errors.js';
import type { Platform } from '../../common/posture.js';
import { loadEffectiveConfig } from '../config/load-config.js';
import type { RegistrySource } from '../config/registry-export.js';
import type { EffectiveConfig } from '../config/resolve-config.js';
import { checkConfigFileTrust } from '../config/trusted-config-file.js';
import { watchFolders } from '../config/watch-config.js';
import { decideNetworkRoute } from '../net/network-route.js';
import type { PacDecider, PacProblem } from '../net/pac-decision.js';
import { createPacDecider } from '../net/pac-decision.js';
import type { ProxyChoice } from '../net/proxy-route.js';
import { describeRoute, routeInWords } from '../net/proxy-route.js';
import { createServiceDispatcher } from '../net/service-dispatcher.js';
import { readSystemProxy } from '../net/system-proxy.js';
import { currentPlatform } from '../posture/platform.js';
import type { Agent, AgentLog } from './agent.js';
import type { LogLevel } from './agent-log.js';
import { logs } from './agent-log.js';
import { agentStatusOf, problemLines, statusProblems, withProblems } from './agent-status.js';
import { createAgent, readAgentConfig } from './create-agent.js';
import { selfCommand } from '../inventory/self-command.js';
import { fetchAgentStatus } from './ipc-client.js';
import { defaultIpcPath } from './ipc-path.js';
import { startIpcServer } from './ipc-server.js';
import { liveSupportBundle } from './posture-command.js';
import { currentAccount, isSystemAccount } from './system-account.js';
import type { LoopbackPortTaken } from './token-endpoint.js';
import { DPOP_NONCE } from './token-endpoint.js';
import { keepTokenEndpoint } from './token-endpoint-keeper.js';
import type { PosturePolicy } from '../../common/posture.js';
import type { ManagedPosturePolicy } from './managed-posture-policy.js';
import { managedPolicyFolders, managedPosturePolicy, openManagedPosturePolicy } from './managed-posture-policy.js';
import { createLiveRegistrySource } from '../config/registry-live.js';
import { AGENT_VERSION } from './version.js';

/** How often the system agent reads its configuration again even when no watch fired. */
const RECHECK_SECONDS = 30;

export interface AgentIo {
  readonly out: (text: string) => void;
  /** Notes for the person beside the result (stderr), so `--json` output stays one object. */
  readonly err?: (text: string) => void;
}

export function describeState(s: AgentState): string {
  const expires = s.tokenExpiresAt ? ` (token until ${s.tokenExpiresAt})` : '';
  return `[${s.since}] ${s.state.toUpperCase()}${s.tier ? ` tier=${s.tier}` : ''}${expires}: ${s.reason} Next: ${s.nextAction}\n`;
}

/** Where the agent's own configuration and IT's managed policy come from. */
interface ConfigPlace {
  readonly platform: Platform;
  readonly where: { registry?: RegistrySource };
}

async function configPlace(): Promise<ConfigPlace> {
  const platform = currentPlatform();
  return { platform, where: platform === 'win32' ? { registry: await createLiveRegistrySource() } : {} };
}

/** IT's managed settings only (the system agent belongs to no signed-in person). */
function loadManaged(place: ConfigPlace): Promise<EffectiveConfig> {
  return loadEffectiveConfig(place.platform, place.where);
}

/**
 * The way to the device trust service: the proxy IT set, else IT's PAC file, else the
 * environment's, else the machine's (its PAC file, WinHTTP, macOS's proxies); see
 * main/net/network-route.ts. It becomes undici's global dispatcher, which the service client's
 * fetch uses, so one process has one route; returns it with what could not be used.
 */
async function networkRoute(place: ConfigPlace, managed: EffectiveConfig, serviceUrl: string | null, pac: PacDecider): Promise<ProxyChoice & { systemProblem: string | null }> {
  const system = await readSystemProxy(place.platform);
  const proxy = managed.settings.proxy?.value;
  const pacUrl = managed.settings.proxyAutoConfigUrl?.value;
  const choice = await decideNetworkRoute({ managedProxy: typeof proxy === 'string' ? proxy : null, managedPacUrl: typeof pacUrl === 'string' ? pacUrl : null, env: process.env, system, serviceUrl }, pac);
  return { ...choice, systemProblem: system.problem };
}

/** The service URL in IT's configuration file, which a PAC file is asked about; null while there is no usable file. */
function configuredServiceUrl(path: string, platform: Platform): string | null {
  try {
    return readTrustedConfig(path, platform).config.serviceUrl;
  } catch (e) {
    if (isAgentError(e)) return null;
    throw e;
  }
}

/** The system agent's configuration file, once it is IT's (owner and mode checked) and valid. */
function readTrustedConfig(path: string, platform: Platform): { config: AgentConfig; text: string } {
  checkConfigFileTrust(path, platform, process.getuid?.());
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `The agent configuration ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return { config: readAgentConfig(path), text };
}

/** What the trays and `dta status` see while the agent has no usable configuration (`error`), or is starting on one (null). */
function waitingStatus(error: AgentError | null, since: string): AgentStatus {
  return {
    agent: {
      state: error === null ? 'starting' : 'error',
      reason: error === null ? 'The agent is starting.' : `This device's agent has no usable settings from IT yet: ${error.message}`,
      nextAction: error === null ? 'Wait a moment.' : 'Nothing to do on this device: the agent starts by itself as soon as IT\'s configuration arrives. IT: the agent\'s log says what is missing.',
      since,
      tier: null,
      tokenExpiresAt: null,
      graceUntil: null,
      lastCheckAt: null,
      deviceId: null,
      errorCode: error?.code ?? null,
      report: null,
    },
    agentVersion: AGENT_VERSION,
    keyProtection: null,
    keyStorage: null,
    serviceUrl: '',
  };
}

interface RunningAgent {
  readonly text: string;
  readonly config: AgentConfig;
  readonly agent: Agent;
  readonly log: AgentLog;
  /** Why web pages get no token now (the loopback port is taken), or null. */
  loopbackProblem(): LoopbackPortTaken | null;
  stop(): Promise<void>;
}

/**
 * The machine's agent: runs until `signal` aborts, printing each state change. It owns the
 * device identity and the probes, and serves its local clients (IPC) and web pages (the
 * loopback token endpoint) once for the whole machine. Started before IT's configuration
 * arrives (an Autopilot or Jamf enrolment race), or with a file it cannot use, it says why in
 * its output (the log IT reads), shows the same to the trays and `dta status`, and starts as
 * soon as the file is usable: the file's folder and the managed policy are followed, and read
 * again every RECHECK_SECONDS anyway. A changed file restarts the agent on it; a broken one
 * leaves the running agent as it was.
 */
export async function agentCommand(args: readonly string[], io: AgentIo, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, ipc: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta agent needs --config FILE.');
  const configPath = values.config;
  const json = values.json ?? false;
  const place = await configPlace();
  let managed = await loadManaged(place);
  const logLevel = (): LogLevel => managed.settings.logLevel?.value as LogLevel;
  // Lines for the log IT reads (the agent's output: the journal, launchd's log, the Windows
  // service wrapper's log), and the agent's own log file once it has one.
  let running: RunningAgent | null = null;
  const report = (level: 'info' | 'warn', event: string, fields: Record<string, unknown>, text: string): void => {
    if (!logs(logLevel(), level)) return;
    io.out(json ? `${JSON.stringify({ event, level, ...fields })}\n` : `${text}\n`);
    running?.log[level](event, fields);
  };
  for (const p of managed.problems) report('warn', 'config-problem', { key: p.key, source: p.source, message: p.message }, p.message);

  let routeKey = '';
  // What IT's (or the machine's) PAC file could not give, shown in the status beside the state.
  let pacProblems: readonly PacProblem[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of listeners) listener();
  };
  // PAC decisions are kept for a while (pac-decision.ts); one keeper for the agent's life.
  const pac = createPacDecider({ fetch: { uid: process.getuid?.() } });
  const applyRoute = async (): Promise<void> => {
    const choice = await networkRoute(place, managed, configuredServiceUrl(configPath, place.platform), pac);
    const key = JSON.stringify(choice.route);
    if (key === routeKey) return;
    routeKey = key;
    pacProblems = choice.pacProblems;
    notify();
    // undici is loaded here, not with the module: `dta status` shares this module and never needs it.
    (await import('undici')).setGlobalDispatcher(await createServiceDispatcher(choice.route));
    const shown = describeRoute(choice.route);
    report('info', 'network-route', shown, routeInWords(choice.route));
    for (const problem of [...choice.problems, ...(choice.systemProblem !== null ? [choice.systemProblem] : [])]) report('warn', 'proxy-problem', { problem }, problem);
    for (const p of choice.pacProblems) report('warn', 'proxy-problem', { code: p.code, problem: p.message }, `${p.code}: ${p.message}`);
  };
  await applyRoute();

  let first: { config: AgentConfig; text: string } | AgentError;
  try {
    first = readTrustedConfig(configPath, place.platform);
  } catch (e) {
    if (!isAgentError(e)) throw e;
    first = e;
  }
  const ipcPath = values.ipc ?? (first instanceof AgentError ? undefined : first.config.ipcPath) ?? defaultIpcPath(place.platform);

  let unconfigured: { error: AgentError; since: string } | null = null;
  const startedAt = new Date().toISOString();
  const status = (): AgentStatus => {
    const problems = statusProblems(running?.loopbackProblem() ?? null, pacProblems);
    return running !== null ? agentStatusOf(running.agent, running.config.serviceUrl, problems) : { ...waitingStatus(unconfigured?.error ?? null, unconfigured?.since ?? startedAt), ...withProblems(problems) };
  };
  const posturePolicy = async (): Promise<ManagedPosturePolicy> => managedPosturePolicy(place.platform, place.where);
  // The running agent's policy in force (a refused broken file does not show up in the bundle); read afresh only while none runs.
  let livePolicy: (() => PosturePolicy) | null = null;

  const setUnconfigured = (error: AgentError): void => {
    if (unconfigured?.error.code === error.code && unconfigured.error.message === error.message) return;
    unconfigured = { error, since: new Date().toISOString() };
    report('warn', 'config-error', { code: error.code, message: error.message, file: configPath }, `dta agent: ${error.code}: ${error.message} The agent waits for IT's configuration and starts as soon as it is usable.`);
    const s = status().agent;
    io.out(json ? `${JSON.stringify({ ...s, report: undefined })}\n` : describeState(s));
    notify();
  };

  const startAgent = async (config: AgentConfig, text: string): Promise<RunningAgent> => {
    // IT's posture policy as it is at each check: a change applies without a restart.
    const policy = await openManagedPosturePolicy(place.platform, place.where);
    livePolicy = policy.current;
    const { agent, log } = createAgent(config, { posturePolicy: policy.current, logLevel, inventoryCommand: selfCommand(process.execPath, process.execArgv, process.argv) });
    for (const problem of policy.problems) log.warn('managed-config-problem', { problem });
    const stopPolicy = policy.follow({ log, onChange: () => void agent.checkNow() });
    const unsubscribe = agent.subscribe((s) => {
      io.out(json ? `${JSON.stringify({ ...s, report: undefined })}\n` : describeState(s));
      notify();
    });
    // The lines IT reads (the agent's output) and the agent's own log file, for the endpoint's port problems.
    const endpointLog: AgentLog = {
      info: (event, fields = {}) => report('info', event, fields, `${event}: ${JSON.stringify(fields)}`),
      warn: (event, fields = {}) => report('warn', event, fields, `dta agent: ${typeof fields.message === 'string' ? fields.message : event} Web pages get no device token until then; the agent tries again in ${Math.ceil(Number(fields.retryInMs ?? 0) / 1000)} s.`),
    };
    let endpoint;
    try {
      endpoint = await keepTokenEndpoint(
        { agent, allowedOrigins: config.allowedOrigins, accessServices: config.accessServices, port: config.loopbackPort, log },
        {
          log: endpointLog,
          onListening: (port) => io.out(json ? `${JSON.stringify({ event: 'listening', port, ipc: ipcPath })}\n` : `loopback token endpoint on 127.0.0.1:${port}; local clients on ${ipcPath}\n`),
          onChange: notify,
        },
      );
    } catch (e) {
      stopPolicy();
      unsubscribe();
      agent.stop();
      throw e;
    }
    const loopbackProblem = (): LoopbackPortTaken | null => (running?.agent === agent ? endpoint.problem() : null);
    if (config.ipcPath !== undefined && config.ipcPath !== ipcPath) report('warn', 'ipc-path-unchanged', { ipcPath: config.ipcPath, serving: ipcPath }, `The configuration names the IPC endpoint ${config.ipcPath}; the trays keep using ${ipcPath} until the agent restarts.`);
    const started: RunningAgent = {
      text,
      config,
      agent,
      log,
      loopbackProblem,
      stop: async () => {
        stopPolicy();
        unsubscribe();
        agent.stop();
        await endpoint.close();
      },
    };
    running = started;
    unconfigured = null;
    notify();
    await agent.start();
    return started;
  };

  // One load at a time: a watch event and the periodic read may come together.
  const load = async (): Promise<void> => {
    managed = await loadManaged(place);
    await applyRoute();
    let next: { config: AgentConfig; text: string };
    try {
      next = readTrustedConfig(configPath, place.platform);
    } catch (e) {
      if (!isAgentError(e)) throw e;
      if (running === null) setUnconfigured(e);
      else report('warn', 'config-error', { code: e.code, message: e.message, file: configPath }, `dta agent: ${e.code}: ${e.message} The agent keeps running on the configuration it has.`);
      return;
    }
    if (running?.text === next.text) return;
    if (running !== null) {
      report('info', 'config-changed', { file: configPath }, `The agent configuration ${configPath} changed: the agent restarts on it.`);
      await running.stop();
      running = null;
    }
    try {
      await startAgent(next.config, next.text);
    } catch (e) {
      if (!isAgentError(e)) throw e;
      setUnconfigured(e);
    }
  };
  let loading = Promise.resolve();
  const reload = (): void => {
    loading = loading.then(load).catch((e: unknown) => report('warn', 'config-error', { code: 'UNEXPECTED', message: (e as Error).message, file: configPath }, `dta agent: ${(e as Error).message}`));
  };

  // The IPC endpoint first: a second agent on the machine stops here (AGENT_RUNNING).
  const ipc = await startIpcServer({
    path: ipcPath,
    agentVersion: AGENT_VERSION,
    handlers: {
      status,
      subscribe: (listener) => {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
      checkNow: async () => {
        if (running !== null) return running.agent.checkNow();
        reload();
        await loading;
      },
      supportBundle: async () => ({ fileName: `device-trust-support-${new Date().toISOString().slice(0, 10)}.json`, content: JSON.stringify(await liveSupportBundle(livePolicy?.() ?? (await posturePolicy()).policy)) }),
    },
  });
  if (first instanceof AgentError) setUnconfigured(first);
  else {
    try {
      await startAgent(first.config, first.text);
    } catch (e) {
      if (!isAgentError(e)) {
        await ipc.close();
        throw e;
      }
      setUnconfigured(e);
    }
  }
  const stopFollowing = watchFolders([dirname(configPath), ...managedPolicyFolders(place.platform)], reload, { rereadMs: RECHECK_SECONDS * 1000 });

  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  stopFollowing();
  await loading;
  const last = running as RunningAgent | null;
  await last?.stop();
  await ipc.close();
  return 0;
}

/** During an outage: since when, until when access services accept this device, what blocks it. */
function outageLine(s: AgentState): string {
  const o = s.outage;
  if (o === undefined) return '';
  const blocked = o.blockedBy.length > 0 ? `; no proofs while these are worse than when access was granted: ${o.blockedBy.join(', ')}` : '';
  return `Outage:         service unreachable since ${o.since}; access until ${o.accessUntil ?? '—'}${o.graceMinutes !== null ? ` (token expiry + ${o.graceMinutes} min grace)` : ' (no grace configured)'}${blocked}\n`;
}

/**
 * Where `dta status --config FILE` finds the agent: the file's `ipcPath`, the only setting it
 * needs. The deployed file is IT's and root-only (0600), so an ordinary account (support staff
 * over SSH) cannot read it: then, and when the file names no usable path, the default place
 * is asked, and the note says so.
 */
export function statusIpcPath(configPath: string, platform: Platform): { readonly path: string; readonly note: string | null } {
  const fallback = defaultIpcPath(platform);
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'EACCES' ? 'this account may not read it (it is IT\'s, readable by the agent alone)' : (e as Error).message;
    return { path: fallback, note: `dta status: the agent configuration ${configPath} cannot be read: ${why}. Asking the agent at its default place, ${fallback}.` };
  }
  let ipcPath: unknown;
  try {
    const json: unknown = JSON.parse(text);
    ipcPath = typeof json === 'object' && json !== null && Object.hasOwn(json, 'ipcPath') ? (json as { ipcPath: unknown }).ipcPath : undefined;
  } catch {
    return { path: fallback, note: `dta status: the agent configuration ${configPath} is not JSON. Asking the agent at its default place, ${fallback}.` };
  }
  if (ipcPath === undefined) return { path: fallback, note: null };
  if (typeof ipcPath !== 'string' || ipcPath.length === 0 || ipcPath.length > 200) return { path: fallback, note: `dta status: the ipcPath in ${configPath} is not a usable path. Asking the agent at its default place, ${fallback}.` };
  return { path: ipcPath, note: null };
}

/** `dta status`: the machine agent's state, for any local account (support staff over SSH too). */
export async function statusCommand(args: readonly string[], io: AgentIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, ipc: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  let path = values.ipc ?? defaultIpcPath(currentPlatform());
  if (values.ipc === undefined && values.config !== undefined) {
    const found = statusIpcPath(values.config, currentPlatform());
    path = found.path;
    if (found.note !== null) (io.err ?? io.out)(`${found.note}\n`);
  }
  const status = await fetchAgentStatus(path);
  const s = status.agent;
  if (values.json) {
    io.out(`${JSON.stringify({ state: s.state, tier: s.tier, deviceId: s.deviceId, keyProtection: status.keyProtection, keyStorage: status.keyStorage, reason: s.reason, nextAction: s.nextAction, errorCode: s.errorCode, tokenExpiresAt: s.tokenExpiresAt, outage: s.outage ?? null, problems: status.problems ?? [], since: s.since, agentVersion: status.agentVersion, serviceUrl: status.serviceUrl })}\n`);
  } else {
    io.out(`State:          ${s.state}${s.tier ? ` (tier ${s.tier})` : ''}\nReason:         ${s.reason}\nNext:           ${s.nextAction}\n${outageLine(s)}${problemLines(status.problems ?? [])}Device:         ${s.deviceId ?? '—'}\nKey:            ${status.keyProtection ?? '—'}${status.keyStorage ? ` (${status.keyStorage})` : ''}\nAgent version:  ${status.agentVersion}\nService:        ${status.serviceUrl}\n`);
  }
  return s.state === 'compliant' || s.state === 'warning' ? 0 : 1;
}

/**
 * One token for a native client, bound to the access service it is for (`--audience`: a
 * token without one opens nothing), optionally with a proof for one request. It signs with
 * the device key, so it runs as the system agent's account (root / SYSTEM) only.
 */
export async function tokenCommand(args: readonly string[], io: AgentIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, audience: { type: 'string' }, nonce: { type: 'string' }, htm: { type: 'string' }, htu: { type: 'string' }, 'dpop-nonce': { type: 'string' } }, strict: true });
  if (values.config === undefined) throw new AgentError('USAGE', 'dta token needs --config FILE.');
  if (values.audience === undefined || values.audience === '') throw new AgentError('USAGE', 'dta token needs --audience X: the access service the token is for.');
  if ((values.htm === undefined) !== (values.htu === undefined)) throw new AgentError('USAGE', 'Give both --htm and --htu for a proof, or neither.');
  // The access service's DPoP-Nonce (RFC 9449 §9), for a native client to retry with after use_dpop_nonce.
  const dpopNonce = values['dpop-nonce'];
  if (dpopNonce !== undefined && values.htm === undefined) throw new AgentError('USAGE', '--dpop-nonce goes into a proof: give --htm and --htu with it.');
  if (dpopNonce !== undefined && !DPOP_NONCE.test(dpopNonce)) throw new AgentError('USAGE', 'The --dpop-nonce must be 1 to 128 printable ASCII characters without quotes or backslashes, as the access service sent it in DPoP-Nonce.');
  const platform = currentPlatform();
  const privileged = isSystemAccount(platform, currentAccount());
  const notPrivileged = (cause?: unknown): AgentError =>
    new AgentError('KEYSTORE_UNAVAILABLE', `dta token signs with the device key, which only ${platform === 'win32' ? 'SYSTEM' : 'root'} can read: run it ${platform === 'win32' ? 'as SYSTEM' : 'as root (sudo dta token ...)'}.`, cause === undefined ? {} : { cause });
  let config;
  try {
    config = readTrustedConfig(values.config, platform).config;
  } catch (e) {
    // IT's configuration is root-only too: for another account, that is the same refusal.
    throw privileged ? e : notPrivileged(e);
  }
  // In the single-user developer mode the key is in the person's own keystore.
  if (!privileged && config.keyStorage !== 'os-keystore') throw notPrivileged();
  // The same way to the service as the machine's agent (IT's proxy, the environment's, WinHTTP).
  const place = await configPlace();
  (await import('undici')).setGlobalDispatcher(await createServiceDispatcher((await networkRoute(place, await loadManaged(place), config.serviceUrl, createPacDecider({ fetch: { uid: process.getuid?.() } }))).route));
  const { agent } = createAgent(config);
  await agent.checkNow();
  const state = agent.state();
  if (state.state === 'error' || state.state === 'enrolling' || state.state === 'offline') {
    agent.stop();
    const code = AGENT_ERROR_CODES.find((c) => c === state.errorCode) ?? (state.state === 'offline' ? 'SERVICE_UNREACHABLE' : 'SERVICE_REFUSED');
    throw new AgentError(code, `No token: ${state.reason}`);
  }
  let issued, dpop;
  try {
    issued = await agent.tokenFor(values.audience, values.nonce);
    dpop = values.htm !== undefined && values.htu !== undefined ? await agent.proofFor(values.htm, values.htu, issued.token, dpopNonce) : undefined;
  } finally {
    agent.stop();
  }
  io.out(`${JSON.stringify({ token: issued.token, expiresAt: issued.expiresAt.toISOString(), tier: issued.tier, ...(dpop ? { dpop } : {}) }, null, 2)}\n`);
  return issued.tier === 'none' ? 1 : 0;
}

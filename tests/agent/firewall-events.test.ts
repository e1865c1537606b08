// Drift seen from nftables' own change events: the agent (real service on loopback, a real key
// file, the real firewall check) watches a network namespace's nftables through `nft monitor`,
// with its poll two minutes away, and reports the device blocked soon after `nft flush ruleset`
// there. The log names what saw the drift (the event, not the poll). A monitor that is killed
// is started again; without nft, or without the right to run it, the agent polls and says so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CheckId, PostureReport } from '../../common/posture.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import type { AgentLog, PostureSource } from '../../main/agent/agent.js';
import { Agent } from '../../main/agent/agent.js';
import { worstVerdict } from '../../main/agent/local-enforcement.js';
import { createServiceClient } from '../../main/agent/service-client.js';
import { createFileKeystore } from '../../main/identity/file-keystore.js';
import { DeviceIdentity } from '../../main/identity/identity.js';
import { createSoftwareKeyStore } from '../../main/identity/software-key-store.js';
import type { CommandRunner } from '../../main/posture/command-runner.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import { runPosture } from '../../main/posture/engine.js';
import { NFT, nftMonitorEvents } from '../../main/posture/events/nft-monitor.linux.js';
import type { PostureEvents, WatchMode } from '../../main/posture/events/posture-events.js';
import { createLiveProbeSource } from '../../main/posture/live-probe-source.js';
import { allowedCommands, checksFor } from '../../main/posture/platform.js';
import { HEALTHY_LINUX, postureReport } from '../kit/fake-device.js';
import { NetNamespace } from '../kit/netns.js';
import type { TestService } from '../kit/service.js';
import { startTestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitForAgentState, waitUntil } from '../kit/wait.js';

const IP = '/usr/sbin/ip';
const SETPRIV = '/usr/bin/setpriv';
/** Short runs, so that a test sees one run replaced by the next. */
const RUN_MS = 6000;
const FIREWALL_ON = `table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
  }
}`;

let service: TestService;
before(async () => {
  service = await startTestService();
});
after(async () => {
  await service.close();
});

/** Every command started inside the namespace (`ip netns exec` execs the program: the child is the program itself). */
function runnerIn(ns: NetNamespace, programs: readonly string[], prefix: readonly string[] = []): CommandRunner {
  const inner = createCommandRunner({ allowList: new Set([IP]) });
  return {
    run: (request) => {
      const [file] = request.argv;
      if (file === undefined || !programs.includes(file)) return Promise.reject(new Error(`not allowed here: ${String(file)}`));
      return inner.run({ ...request, argv: [IP, 'netns', 'exec', ns.name, ...prefix, ...request.argv] });
    },
  };
}

/**
 * A healthy Linux device whose firewall check is the real one, run inside `ns`: its programs
 * through `ip netns exec`, its files (/proc/net is per namespace) through `filePath`
 * (NetNamespace.filesInside).
 */
function postureIn(ns: NetNamespace, filePath: (path: string) => string): PostureSource {
  const source = createLiveProbeSource({ runner: runnerIn(ns, [...allowedCommands('linux')]), filePath });
  const firewall = checksFor('linux').filter((c) => c.id === 'firewall');
  return {
    async run(only?: readonly CheckId[]): Promise<PostureReport> {
      const base = postureReport('linux', HEALTHY_LINUX);
      const live = (await runPosture({ platform: 'linux', checks: firewall, source, policy: defaultPosturePolicy(), now: () => new Date() })).report.checks[0];
      assert.ok(live, 'the firewall check gave a result');
      const checks = base.checks.map((c) => (c.id === 'firewall' ? live : c)).filter((c) => only === undefined || only.includes(c.id));
      return { ...base, checks, verdict: worstVerdict(checks.map((c) => c.verdict)), durationMs: Math.ceil(live.durationMs) + 5 };
    },
  };
}

interface LogLine {
  readonly level: 'info' | 'warn';
  readonly event: string;
  readonly fields: Record<string, unknown>;
}
function recordingLog(): AgentLog & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (event, fields = {}) => lines.push({ level: 'info', event, fields }),
    warn: (event, fields = {}) => lines.push({ level: 'warn', event, fields }),
  };
}

function agentIn(ns: NetNamespace, filePath: (path: string) => string, events: PostureEvents, log: AgentLog, fastSeconds: number): Agent {
  const dataDir = tempFolderPath('dta-fw-events-');
  const keys = createSoftwareKeyStore(createFileKeystore({ dir: join(dataDir, 'keys') }), 'file');
  const deviceId = randomBytes(16).toString('hex');
  return new Agent({
    loadIdentity: () => DeviceIdentity.load({ deviceId, keys, dataDir, now: () => new Date() }),
    posture: postureIn(ns, filePath),
    client: createServiceClient({ baseUrl: service.url, timeoutMs: 5000 }),
    enrolmentSecret: service.enrolmentSecret,
    cadence: { fastSeconds, fullSeconds: 3600, safetySeconds: 120 },
    fastChecks: ['firewall'],
    backoff: { initialMs: 200, maxMs: 1000 },
    postureEvents: events,
    log,
  });
}

/**
 * This process's child processes in `ns` whose command line holds `word` (the monitors the
 * runner started there). The tests run side by side, so each looks only at its own namespace's.
 */
function childrenRunning(word: string, ns: NetNamespace): number[] {
  const pids: number[] = [];
  const inNamespace = `net:[${statSync(`/run/netns/${ns.name}`).ino}]`;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(word) && readlinkSync(`/proc/${name}/ns/net`) === inNamespace) pids.push(Number(name));
    } catch {
      // the process ended while it was read
    }
  }
  return pids;
}

/** Waits until the monitors of a stopped watch have ended: at once, well before their deadline. */
async function monitorsEnded(ns: NetNamespace): Promise<void> {
  await waitUntil('the nft monitors to end when the watch stops', () => childrenRunning('monitor', ns).length === 0, RUN_MS / 2);
}

/**
 * An agent in a namespace with the workstation firewall, watching nftables through `nft
 * monitor` with the poll two minutes away: started, compliant and its monitor in place before
 * `body` runs; stopped, its monitors ended and the namespace gone after, whatever happened.
 */
async function withMonitoredAgent(body: (ns: NetNamespace, log: ReturnType<typeof recordingLog>, agent: Agent) => Promise<void>): Promise<void> {
  const ns = namespaceWithFirewall();
  const log = recordingLog();
  const inside = await ns.filesInside().catch((e: unknown) => {
    ns.delete();
    throw e;
  });
  const agent = agentIn(ns, inside.filePath, nftMonitorEvents({ runner: runnerIn(ns, [NFT]), runMs: RUN_MS, log }), log, 120);
  try {
    await agent.start();
    await waitForAgentState(agent, (s) => s.state === 'compliant');
    await waitUntil('the monitor to be in place', () => log.lines.some((l) => l.event === 'posture-events' && l.fields.mode === 'events'), 10_000);
    await body(ns, log, agent);
  } finally {
    agent.stop();
    inside.stop();
    await monitorsEnded(ns);
    ns.delete();
  }
}

function namespaceWithFirewall(): NetNamespace {
  const ns = NetNamespace.create('dta-fwev');
  ns.exec([IP, 'link', 'set', 'lo', 'up']);
  ns.nft(FIREWALL_ON);
  return ns;
}

function drifts(log: { lines: LogLine[] }): string[] {
  return log.lines.filter((l) => l.event === 'drift').map((l) => String(l.fields.trigger));
}

/** Whether the first drift was checked because nft monitor reported a change (alone or with others in the same moment). */
function firstDriftFromEvent(log: { lines: LogLine[] }): boolean {
  const first = drifts(log)[0] ?? '';
  return first.startsWith('event:') && first.slice('event:'.length).split(',').includes('nft-monitor');
}

// Each test has a namespace and monitors of its own. The slow refusal's test mostly sleeps (and
// is made certain to be slow), so it runs beside the others.
describe('nftables drift events', { concurrency: true }, () => {
  // One after the other: side by side, the agents' checks and monitors slowed each other past
  // these tests' waits on two cores, and a quick refusal is quick only on a machine not busy.
  describe('one at a time', { concurrency: 1 }, () => {
    test('nft flush ruleset gets the agent blocked through the nftables event, with the poll two minutes away', { timeout: 60_000 }, async () => {
      await withMonitoredAgent(async (ns, log, agent) => {
        // Past one run's deadline: the next run took over with no gap.
        await new Promise((r) => setTimeout(r, RUN_MS + 500));
        ns.exec([NFT, 'flush', 'ruleset']);
        const blocked = await waitForAgentState(agent, (s) => s.state === 'blocked', 15_000);
        assert.equal(blocked.tier, 'none');
        assert.ok(firstDriftFromEvent(log), `the drift was seen by the nftables event: ${drifts(log).join(' ')}`);
        assert.ok(!drifts(log).includes('poll'), 'not by the poll');
        assert.ok(log.lines.some((l) => l.event === 'posture-event' && l.fields.source === 'nft-monitor'));
      });
    });

    test('a killed nft monitor is started again, and the next change is still seen by its event', { timeout: 60_000 }, async () => {
      await withMonitoredAgent(async (ns, log, agent) => {
        const monitors = childrenRunning('monitor', ns);
        assert.ok(monitors.length > 0, 'an nft monitor runs as the agent\'s child');
        for (const pid of monitors) process.kill(pid, 'SIGKILL');
        await waitUntil('the restart to be logged', () => log.lines.some((l) => l.event === 'posture-events-restarted' && String(l.fields.reason).includes('killed')), 10_000);
        // The new monitor settled: it asked for a check of whatever changed while none watched.
        await waitUntil('the restarted monitor to settle', () => log.lines.filter((l) => l.event === 'posture-event' && l.fields.source === 'nft-monitor-restart').length >= 2, 10_000);
        assert.ok(childrenRunning('monitor', ns).some((pid) => !monitors.includes(pid)), 'a new monitor runs');
        // Past the check that restart asked for, so the flush below is the monitor's to see.
        await new Promise((r) => setTimeout(r, 1500));
        ns.exec([NFT, 'flush', 'ruleset']);
        await waitForAgentState(agent, (s) => s.state === 'blocked', 15_000).catch((e: unknown) => {
          throw new Error(`${(e as Error).message}; log: ${JSON.stringify(log.lines)}`);
      });
      assert.ok(firstDriftFromEvent(log), `the restarted monitor saw the drift: ${drifts(log).join(' ')}`);
      assert.ok(!drifts(log).includes('poll'), 'not the poll');
      });
    });

    test('without nft the agent says it polls, and the poll sees the drift', { timeout: 60_000 }, async () => {
      const ns = namespaceWithFirewall();
      const log = recordingLog();
      const missing = '/nonexistent/sbin/nft';
      const events = nftMonitorEvents({ runner: createCommandRunner({ allowList: new Set([missing]) }), nftPath: missing, runMs: RUN_MS, log });
      const inside = await ns.filesInside().catch((e: unknown) => {
        ns.delete();
        throw e;
      });
      const agent = agentIn(ns, inside.filePath, events, log, 1);
      try {
        await agent.start();
        await waitForAgentState(agent, (s) => s.state === 'compliant');
        await waitUntil('the fallback to be logged', () => log.lines.some((l) => l.event === 'posture-events'), 10_000);
        const said = log.lines.filter((l) => l.event === 'posture-events');
        assert.equal(said.length, 1);
        assert.equal(said[0]?.level, 'warn');
        assert.equal(said[0]?.fields.mode, 'polling');
        assert.match(String(said[0]?.fields.reason), /nonexistent\/sbin\/nft is not installed/);
        ns.exec([NFT, 'flush', 'ruleset']);
        await waitForAgentState(agent, (s) => s.state === 'blocked', 15_000);
        assert.deepEqual(drifts(log), ['poll'], 'the fast poll saw the drift');
      } finally {
        agent.stop();
        inside.stop();
        ns.delete();
      }
    });

    test('an nft monitor that may not run ends at once: after three quick ends the source says polling, and keeps trying', { timeout: 60_000 }, async () => {
      const ns = namespaceWithFirewall();
      const log = recordingLog();
      // nobody may not open nftables' netlink socket: nft prints "Operation not permitted" and exits.
      const runner = runnerIn(ns, [NFT], [SETPRIV, '--reuid=65534', '--regid=65534', '--clear-groups']);
      const modes: { mode: WatchMode; reason: string | null }[] = [];
      const changes: string[] = [];
      const stop = nftMonitorEvents({ runner, runMs: RUN_MS, log }).start({ onChange: (c) => changes.push(c.source), onMode: (mode, _checks, reason) => modes.push({ mode, reason }) });
      try {
        await waitUntil('the source to say polling', () => modes.length > 0, 20_000);
        assert.equal(modes[0]?.mode, 'polling');
        assert.match(modes[0]?.reason ?? '', /ended 3 times in a row/);
        assert.ok(log.lines.some((l) => l.event === 'posture-events' && l.level === 'warn' && l.fields.mode === 'polling'));
        // nft's error message is read as an error, not as a change.
        assert.equal(changes.filter((c) => c === 'nft-monitor').length, 0, changes.join(' '));
        assert.match(modes[0]?.reason ?? '', /Operation not permitted/);
      } finally {
        stop();
        await monitorsEnded(ns);
        ns.delete();
      }
    });
  });

  test('an nft monitor that may not run and is slow to say so (past the settle time) still ends in polling, and stays there', { timeout: 60_000 }, async () => {
    const ns = namespaceWithFirewall();
    const log = recordingLog();
    // A busy machine, made certain: nft refuses only after 2 s, twice the watch's settle time.
    const slowThenRefused = ['/bin/sh', '-c', 'sleep 2; exec "$@"', 'slow-nft', SETPRIV, '--reuid=65534', '--regid=65534', '--clear-groups'];
    const runner = runnerIn(ns, [NFT], slowThenRefused);
    const modes: WatchMode[] = [];
    const stop = nftMonitorEvents({ runner, runMs: RUN_MS, log }).start({ onChange: () => undefined, onMode: (mode) => modes.push(mode) });
    const refusals = (): number => log.lines.filter((l) => l.event === 'posture-events-restarted').length;
    try {
      await waitUntil('the source to say polling', () => modes.includes('polling'), 30_000, () => modes.join(' '));
      const warned = log.lines.find((l) => l.event === 'posture-events' && l.fields.mode === 'polling');
      assert.match(String(warned?.fields.reason), /ended 3 times in a row.*Operation not permitted/);
      // One more slow refusal after polling was said: it is not taken for a monitor that watches.
      const seen = refusals();
      await waitUntil('one more refused run', () => refusals() > seen, 20_000);
      assert.deepEqual(modes.slice(modes.indexOf('polling')), ['polling'], modes.join(' '));
    } finally {
      stop();
      await monitorsEnded(ns);
      ns.delete();
    }
  });
});

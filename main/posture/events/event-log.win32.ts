// Windows: the firewall service writes every change of its settings and rules to its own event
// channel, and BitLocker every change of a volume's protection to its management channel. A
// PowerShell script subscribes to both (EventLogWatcher, the .NET wrapper of EvtSubscribe),
// prints the first event's channel and id, and exits; the next run subscribes again.
//
// The whole channel is followed, not a list of event ids: the firewall's ids differ between
// Windows releases (2002-2006 on Windows 10, 2052/2071/2082/2097/2099 on Windows 11), and every
// event of the Firewall channel is a change of configuration (packets are logged elsewhere).
// Windows's fast checks are otherwise not polled (each costs a PowerShell start), so here the
// events are what sees a drift between the full checks.
import type { CheckId } from '../../../common/posture.js';
import type { CommandRunner } from '../command-runner.js';
import { encodeCommand } from '../powershell-batch.js';
import type { EventsLog, PostureChange, PostureEvents } from './posture-events.js';
import { waitCommandWatch } from './wait-command-watch.js';

/** The channels followed, and the check a change in each may affect. */
export const WINDOWS_EVENT_CHANNELS: ReadonlyMap<string, CheckId> = new Map([
  ['Microsoft-Windows-Windows Firewall With Advanced Security/Firewall', 'firewall'],
  ['Microsoft-Windows-BitLocker/BitLocker Management', 'disk-encryption'],
]);

/**
 * A PowerShell start costs a few hundred ms of CPU: one run waits up to 15 minutes, and the
 * next starts half a minute before (subscribing takes PowerShell seconds on a busy machine).
 */
export const EVENT_LOG_RUN_MS = 15 * 60_000;
const EVENT_LOG_OVERLAP_MS = 30_000;

/**
 * The script: subscribe to each channel there is (BitLocker's is missing on editions without
 * it), wait for the first event, print "channel|id", exit 0. It exits 0 with nothing printed
 * at its own deadline, and when the agent (parentPid) is gone, so it never outlives it by more
 * than a few seconds; with no channel to follow it exits 3.
 */
export function eventWaitScript(parentPid: number, waitSeconds: number): string {
  const channels = [...WINDOWS_EVENT_CHANNELS.keys()].map((c) => `'${c}'`).join(', ');
  return [
    "$ErrorActionPreference = 'Stop'",
    '$n = 0',
    `foreach ($channel in @(${channels})) {`,
    '  try {',
    '    $query = [System.Diagnostics.Eventing.Reader.EventLogQuery]::new($channel, [System.Diagnostics.Eventing.Reader.PathType]::LogName)',
    '    $watcher = [System.Diagnostics.Eventing.Reader.EventLogWatcher]::new($query)',
    '    Register-ObjectEvent -InputObject $watcher -EventName EventRecordWritten -SourceIdentifier "dta-$n" | Out-Null',
    '    $watcher.Enabled = $true',
    '    $n++',
    '  } catch { [Console]::Error.WriteLine("$channel cannot be followed: $($_.Exception.Message)") }',
    '}',
    "if ($n -eq 0) { [Console]::Error.WriteLine('No event channel can be followed.'); exit 3 }",
    `$until = (Get-Date).AddSeconds(${String(waitSeconds)})`,
    'while ((Get-Date) -lt $until) {',
    '  $e = Wait-Event -Timeout 5',
    '  if ($null -ne $e) {',
    '    $r = $e.SourceEventArgs.EventRecord',
    '    if ($null -ne $r) { Write-Output ("{0}|{1}" -f $r.LogName, $r.Id) } else { Write-Output "unknown|0" }',
    '    exit 0',
    '  }',
    `  if ($null -eq (Get-Process -Id ${String(parentPid)} -ErrorAction SilentlyContinue)) { exit 0 }`,
    '}',
    'exit 0',
  ].join('\n');
}

/**
 * What the script printed ("channel|id" lines) as the change it reports: the checks of the
 * channels named, or null when no line names a channel it follows (then every check it
 * watches is run). Pure: tested with the events Windows writes (tests/fixtures/win32/posture-events/).
 */
export function parseEventLine(stdout: string): PostureChange | null {
  const checks = new Set<CheckId>();
  const sources = new Set<string>();
  for (const line of stdout.split(/\r?\n/)) {
    const bar = line.lastIndexOf('|');
    if (bar <= 0) continue;
    const channel = line.slice(0, bar).trim();
    const id = line.slice(bar + 1).trim();
    const check = WINDOWS_EVENT_CHANNELS.get(channel);
    if (check === undefined || !/^\d{1,5}$/.test(id)) continue;
    checks.add(check);
    sources.add(check === 'firewall' ? `firewall-event-log:${id}` : `bitlocker-event-log:${id}`);
  }
  return checks.size === 0 ? null : { source: [...sources].join(','), checks: [...checks] };
}

export interface WindowsEventLogOptions {
  readonly runner: CommandRunner;
  readonly powershellPath: string;
  /** The agent's process id: the script ends when it is gone. */
  readonly parentPid: number;
  readonly runMs?: number;
  readonly log?: EventsLog;
}

/** The firewall's and BitLocker's event channels as firewall and disk encryption events. */
export function windowsEventLogEvents(options: WindowsEventLogOptions): PostureEvents {
  const runMs = options.runMs ?? EVENT_LOG_RUN_MS;
  const script = eventWaitScript(options.parentPid, Math.ceil(runMs / 1000));
  return waitCommandWatch({
    runner: options.runner,
    argv: [options.powershellPath, '-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encodeCommand(script)],
    source: 'windows-event-log',
    checks: [...new Set(WINDOWS_EVENT_CHANNELS.values())],
    endsAt: 'exit',
    describe: parseEventLine,
    runMs,
    overlapMs: EVENT_LOG_OVERLAP_MS,
    // PowerShell takes seconds to start and subscribe on a busy machine.
    settleMs: 10_000,
    ...(options.log ? { log: options.log } : {}),
  });
}

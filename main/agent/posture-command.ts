// `dta posture`: run the checks (or replay a bundle), print a table or JSON, write a
// bundle; the exit code says whether the device passes (0), does not (1), or the
// command itself failed (2).
import { arch } from 'node:os';
import { AgentError } from '../../common/errors.js';
import type { PosturePolicy, PostureReport, SupportBundle } from '../../common/posture.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import { createCommandRunner } from '../posture/command-runner.js';
import { runPosture } from '../posture/engine.js';
import { createLiveProbeSource } from '../posture/live-probe-source.js';
import { allowedCommands, checksFor, currentPlatform, powershellPath } from '../posture/platform.js';
import { formatReportTable } from '../posture/report-table.js';
import { createSupportBundle, readSupportBundle, replaySupportBundle, writeSupportBundle } from '../posture/support-bundle.js';
import { AGENT_NAME, AGENT_VERSION } from './version.js';

export interface PostureCommandOptions {
  readonly json: boolean;
  readonly bundlePath?: string;
  readonly replayPath?: string;
  readonly policy?: PosturePolicy;
}

export interface CommandIo {
  readonly out: (text: string) => void;
  readonly color: boolean;
}

export async function livePosture(policy: PosturePolicy = defaultPosturePolicy()): Promise<{ report: PostureReport; records: Awaited<ReturnType<typeof runPosture>>['records'] }> {
  const platform = currentPlatform();
  const runner = createCommandRunner({ allowList: allowedCommands(platform) });
  const source = createLiveProbeSource({ runner, ...(platform === 'win32' ? { powershellPath: powershellPath() } : {}) });
  return runPosture({ platform, checks: checksFor(platform), source, policy, now: () => new Date() });
}

/** Runs the checks live and returns them as a support bundle (every probe's raw output). */
export async function liveSupportBundle(policy: PosturePolicy): Promise<SupportBundle> {
  const run = await livePosture(policy);
  return createSupportBundle({ agent: { name: AGENT_NAME, version: AGENT_VERSION }, arch: arch(), policy, report: run.report, records: run.records, now: new Date() });
}

/** Runs the checks live and writes them as a support bundle; the report is returned too. */
export async function saveLivePostureBundle(path: string, policy: PosturePolicy): Promise<PostureReport> {
  const bundle = await liveSupportBundle(policy);
  await writeSupportBundle(path, bundle);
  return bundle.report;
}

export async function postureCommand(options: PostureCommandOptions, io: CommandIo): Promise<number> {
  const policy = options.policy ?? defaultPosturePolicy();
  let report: PostureReport;
  if (options.replayPath !== undefined) {
    if (options.bundlePath !== undefined) throw new AgentError('USAGE', '--replay and --bundle cannot be combined.');
    report = await replaySupportBundle(await readSupportBundle(options.replayPath));
  } else {
    report = options.bundlePath !== undefined ? await saveLivePostureBundle(options.bundlePath, policy) : (await livePosture(policy)).report;
  }
  io.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReportTable(report, { color: io.color }));
  return devicePasses(report) ? 0 : 1;
}

/** A device passes when nothing failed and nothing is unknown (warnings pass). */
export function devicePasses(report: PostureReport): boolean {
  return report.checks.every((c) => c.verdict === 'pass' || c.verdict === 'warn');
}

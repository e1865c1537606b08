// A support bundle: every probe's raw output with the report it produced, as one JSON
// file. Replaying it on any machine gives the same verdicts (the judges are pure and
// take the bundle's own time as "now").
import { readFile, rename, writeFile } from 'node:fs/promises';
import { AgentError } from '../../common/errors.js';
import type { PosturePolicy, PostureReport, ProbeRecord, SupportBundle } from '../../common/posture.js';
import { SupportBundleSchema } from '../../common/posture.js';
import { parseWith } from '../../common/validate.js';
import { runPosture } from './engine.js';
import { checksFor } from './platform.js';
import { createReplayProbeSource } from './replay-probe-source.js';

export const MAX_BUNDLE_BYTES = 32 * 1024 * 1024;

export function createSupportBundle(input: {
  agent: { name: string; version: string };
  arch: string;
  policy: PosturePolicy;
  report: PostureReport;
  records: ProbeRecord[];
  now: Date;
}): SupportBundle {
  return {
    schema: 'dta-support-bundle/1',
    createdAt: input.now.toISOString(),
    agent: input.agent,
    platform: input.report.platform,
    arch: input.arch,
    policy: input.policy,
    probes: input.records,
    report: input.report,
  };
}

/** Writes atomically (temporary file, then rename), so a full disk never leaves half a bundle. */
export async function writeSupportBundle(path: string, bundle: SupportBundle): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(bundle, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

export function parseSupportBundle(text: string): SupportBundle {
  if (text.length > MAX_BUNDLE_BYTES) throw new AgentError('BUNDLE_INVALID', `The support bundle is larger than ${MAX_BUNDLE_BYTES} bytes.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AgentError('BUNDLE_INVALID', `The support bundle is not JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseWith(SupportBundleSchema, json, (summary) => new AgentError('BUNDLE_INVALID', `The support bundle does not match its schema: ${summary}`));
}

export async function readSupportBundle(path: string): Promise<SupportBundle> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AgentError('BUNDLE_UNREADABLE', `Cannot read the support bundle ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseSupportBundle(text);
}

/** Judges a bundle's recorded outputs again, at the moment they were collected. */
export async function replaySupportBundle(bundle: SupportBundle): Promise<PostureReport> {
  const { report } = await runPosture({
    platform: bundle.platform,
    checks: checksFor(bundle.platform),
    source: createReplayProbeSource(bundle.probes),
    policy: bundle.policy,
    now: () => new Date(bundle.report.collectedAt),
  });
  return report;
}

// Runs one posture check live on this machine and prints its result as JSON. Tests start
// it inside a network namespace (`ip netns exec`) so the check reads that namespace's firewall.
import { defaultPosturePolicy } from '../../common/posture.js';
import type { CheckId } from '../../common/posture.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import { runPosture } from '../../main/posture/engine.js';
import { createLiveProbeSource } from '../../main/posture/live-probe-source.js';
import { allowedCommands, checksFor, currentPlatform } from '../../main/posture/platform.js';

const id = process.argv[2] as CheckId;
const platform = currentPlatform();
const check = checksFor(platform).find((c) => c.id === id);
if (!check) throw new Error(`no check ${id} on ${platform}`);
const { report } = await runPosture({
  platform,
  checks: [check],
  source: createLiveProbeSource({ runner: createCommandRunner({ allowList: allowedCommands(platform) }) }),
  policy: defaultPosturePolicy(),
  now: () => new Date(),
});
process.stdout.write(JSON.stringify(report.checks[0]));

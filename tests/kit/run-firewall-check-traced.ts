// Runs the Linux firewall check live, as the agent does, and prints its result with the programs
// it started, as JSON. Tests start it inside a network namespace (`ip netns exec`), so both the
// commands and the files it reads (/proc/net is per namespace) are that namespace's.
import { defaultPosturePolicy } from '../../common/posture.js';
import { linuxFirewallCheck } from '../../main/posture/checks/firewall/probe.linux.js';
import { createCommandRunner } from '../../main/posture/command-runner.js';
import type { CommandRunner } from '../../main/posture/command-runner.js';
import { runPosture } from '../../main/posture/engine.js';
import { createLiveProbeSource } from '../../main/posture/live-probe-source.js';
import { allowedCommands } from '../../main/posture/platform.js';

const programs: string[] = [];
const inner = createCommandRunner({ allowList: allowedCommands('linux') });
const runner: CommandRunner = {
  run(request) {
    programs.push(request.argv.join(' '));
    return inner.run(request);
  },
};
const { report } = await runPosture({
  platform: 'linux',
  checks: [linuxFirewallCheck],
  source: createLiveProbeSource({ runner }),
  policy: { ...defaultPosturePolicy(), checkDeadlineMs: 30_000 },
  now: () => new Date(),
});
process.stdout.write(JSON.stringify({ result: report.checks[0], programs }));

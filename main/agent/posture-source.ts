// Live posture for the agent loop: all checks, or only the cheap ones it polls often.
import type { CheckId, Platform, PosturePolicy } from '../../common/posture.js';
import { createCommandRunner } from '../posture/command-runner.js';
import { runPosture } from '../posture/engine.js';
import { createLiveProbeSource } from '../posture/live-probe-source.js';
import { allowedCommands, checksFor, powershellPath } from '../posture/platform.js';
import type { PostureSource } from './agent.js';

export function createLivePostureSource(platform: Platform, policy: PosturePolicy): PostureSource {
  const runner = createCommandRunner({ allowList: allowedCommands(platform) });
  const source = createLiveProbeSource({ runner, ...(platform === 'win32' ? { powershellPath: powershellPath() } : {}) });
  return {
    async run(only) {
      const checks = checksFor(platform).filter((c) => only === undefined || only.includes(c.id));
      return (await runPosture({ platform, checks, source, policy, now: () => new Date() })).report;
    },
  };
}

/** Checks cheap enough to poll every few seconds, per platform. */
export function fastChecksFor(platform: Platform): CheckId[] {
  return platform === 'win32' ? [] : ['firewall']; // on Windows every probe costs a PowerShell start
}

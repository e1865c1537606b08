// The agent's configuration from managed policy, the user's settings and the defaults,
// for the platform it runs on; and the agent settings and posture policy made from it.
import { join } from 'node:path';
import type { AgentConfig } from '../../common/agent-config.js';
import { DEFAULT_BACKOFF, accessServicesFrom, allowedOriginsFrom } from '../../common/agent-config.js';
import { AgentError } from '../../common/errors.js';
import { splitMappingEntry } from '../../common/managed-config.js';
import type { Platform, PosturePolicy } from '../../common/posture.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import type { LayerResult } from './config-sources.js';
import { readLinuxPolicies, readMacManagedPreferences, readUserSettings, readWindowsPolicies } from './config-sources.js';
import { supportDataFromConfig } from './posture-support-data.js';
import type { RegistrySource } from './registry-export.js';
import type { ConfigProblem, EffectiveConfig } from './resolve-config.js';
import { resolveConfig } from './resolve-config.js';

export interface ConfigLocations {
  /** Prefix for system paths, so tests can use a temporary root; '' in production. */
  readonly root?: string;
  /** The signed-in person's own settings file; none for the system agent, which reads only IT's. */
  readonly userSettingsPath?: string;
  /** Windows only: where the policy keys are read. */
  readonly registry?: RegistrySource;
}

export async function loadEffectiveConfig(platform: Platform, where: ConfigLocations): Promise<EffectiveConfig> {
  const managed: LayerResult =
    platform === 'linux' ? await readLinuxPolicies(where.root) : platform === 'darwin' ? await readMacManagedPreferences(where.root) : where.registry ? readWindowsPolicies(where.registry) : { layers: [], problems: [{ source: 'registry', key: null, message: 'The Windows policy keys could not be read.' }] };
  const user: LayerResult = where.userSettingsPath !== undefined ? await readUserSettings(where.userSettingsPath) : { layers: [], problems: [] };
  return resolveConfig([...managed.layers, ...user.layers], [...managed.problems, ...user.problems]);
}

const value = <T>(config: EffectiveConfig, key: string): T => config.settings[key]?.value as T;

export function agentConfigFrom(config: EffectiveConfig, dataDir: string): AgentConfig {
  const serviceUrl = value<string | null>(config, 'serviceUrl');
  if (!serviceUrl) throw new AgentError('CONFIG_INVALID', 'No device trust service is configured (serviceUrl). Ask IT to deploy the agent\'s configuration.');
  const secret = value<string | null>(config, 'enrolmentSecret');
  const grace = value<number | null>(config, 'outageGraceMinutes');
  return {
    serviceUrl,
    ...(secret ? { enrolmentSecret: secret } : {}),
    dataDir,
    allowedOrigins: allowedOriginsFrom(value<string[]>(config, 'allowedOrigins').map(splitMappingEntry)),
    accessServices: accessServicesFrom(value<string[]>(config, 'accessServices').map(splitMappingEntry)),
    loopbackPort: 47_100,
    cadence: { fastSeconds: value<number>(config, 'checkFastSeconds'), fullSeconds: value<number>(config, 'checkFullSeconds') },
    backoff: DEFAULT_BACKOFF,
    ...(grace !== null ? { outageGraceMinutes: grace } : {}),
  };
}

export interface PosturePolicyFromConfig {
  readonly policy: PosturePolicy;
  /** What in the configuration could not be used for the policy (a bad support data entry); the rest applies. */
  readonly problems: readonly ConfigProblem[];
}

export function posturePolicyFrom(config: EffectiveConfig): PosturePolicyFromConfig {
  const base = defaultPosturePolicy();
  const support = supportDataFromConfig(value<string[]>(config, 'postureSupportData'), value<number>(config, 'supportDataMaxAgeDays'), config.settings.postureSupportData?.source ?? 'default');
  return {
    policy: {
      ...base,
      updates: { warnAfterDays: value<number>(config, 'updateWarnAfterDays'), failAfterDays: value<number>(config, 'updateFailAfterDays') },
      screenLock: { maxIdleSeconds: value<number>(config, 'maxScreenLockIdleSeconds') },
      supportData: support.supportData,
    },
    problems: support.problems,
  };
}

/** The settings IT set, for "managed by your organization". */
export function managedKeys(config: EffectiveConfig): string[] {
  return Object.entries(config.settings)
    .filter(([, s]) => s.managed)
    .map(([k]) => k);
}

export function defaultUserSettingsPath(home: string, platform: Platform): string {
  if (platform === 'win32') return join(home, 'AppData', 'Roaming', 'Device Trust', 'settings.json');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Device Trust', 'settings.json');
  return join(home, '.config', 'device-trust', 'settings.json');
}

// The system agent's posture policy from IT's managed configuration (Linux policy folder,
// macOS managed preferences, Windows policy keys): update limits, screen lock, and the
// support data IT adds (postureSupportData). Only managed layers are read: the machine's one
// agent belongs to no signed-in person, so nobody's own settings file may move its policy.
// What cannot be used is returned as problems for the log; the defaults fill in for it.
import type { Platform, PosturePolicy } from '../../common/posture.js';
import type { ConfigLocations } from '../config/load-config.js';
import { loadEffectiveConfig, posturePolicyFrom } from '../config/load-config.js';

export interface ManagedPosturePolicy {
  readonly policy: PosturePolicy;
  /** One line per setting or entry that could not be used, naming where it came from. */
  readonly problems: readonly string[];
}

export async function managedPosturePolicy(platform: Platform, where: Omit<ConfigLocations, 'userSettingsPath'> = {}): Promise<ManagedPosturePolicy> {
  const effective = await loadEffectiveConfig(platform, where);
  const { policy, problems } = posturePolicyFrom(effective);
  return { policy, problems: [...effective.problems, ...problems].map((p) => `${p.source}${p.key !== null ? ` (${p.key})` : ''}: ${p.message}`) };
}

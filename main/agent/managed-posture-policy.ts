// The system agent's posture policy from IT's managed configuration (Linux policy folder,
// macOS managed preferences, Windows policy keys): update limits, screen lock, and the
// support data IT adds (postureSupportData). Only managed layers are read: the machine's one
// agent belongs to no signed-in person, so nobody's own settings file may move its policy.
// What cannot be used is returned as problems for the log; the defaults fill in for it.
//
// The running agent follows IT's changes without a restart: the folders are watched (MDMs
// replace a file by renaming a new one over it, so folders, not files) and everything is
// read again every few seconds in any case (the only way on Windows, and a fallback where a
// watcher misses something). A change that brings a new problem is refused as a whole: the
// last valid policy stays, so a half-written file or a typo never loosens a stricter policy
// into the defaults.
import { dirname } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { Platform, PosturePolicy } from '../../common/posture.js';
import { LINUX_POLICY_DIR, MACOS_MANAGED_PREFERENCES } from '../config/config-sources.js';
import type { ConfigLocations } from '../config/load-config.js';
import { loadEffectiveConfig, posturePolicyFrom } from '../config/load-config.js';
import type { ConfigProblem, EffectiveConfig } from '../config/resolve-config.js';
import { watchFolders } from '../config/watch-config.js';
import type { AgentLog } from './agent.js';

type ManagedLocations = Omit<ConfigLocations, 'userSettingsPath'>;

export interface ManagedPosturePolicy {
  readonly policy: PosturePolicy;
  /** One line per setting or entry that could not be used, naming where it came from. */
  readonly problems: readonly string[];
}

/** The settings posturePolicyFrom reads: their problems make a change unusable, their changes are logged. */
const POLICY_SETTINGS: ReadonlySet<string> = new Set(['updateWarnAfterDays', 'updateFailAfterDays', 'maxScreenLockIdleSeconds', 'postureSupportData', 'supportDataMaxAgeDays']);

interface Reading {
  readonly config: EffectiveConfig;
  readonly policy: PosturePolicy;
  readonly problems: readonly ConfigProblem[];
}

async function readPolicy(platform: Platform, where: ManagedLocations): Promise<Reading> {
  const config = await loadEffectiveConfig(platform, where);
  const { policy, problems } = posturePolicyFrom(config);
  return { config, policy, problems: [...config.problems, ...problems] };
}

const line = (p: ConfigProblem): string => `${p.source}${p.key !== null ? ` (${p.key})` : ''}: ${p.message}`;

export async function managedPosturePolicy(platform: Platform, where: ManagedLocations = {}): Promise<ManagedPosturePolicy> {
  const { policy, problems } = await readPolicy(platform, where);
  return { policy, problems: problems.map(line) };
}

/** The folders IT's managed configuration is read from on `platform` (none on Windows: the registry). */
export function managedPolicyFolders(platform: Platform, root = ''): string[] {
  if (platform === 'linux') return [root + LINUX_POLICY_DIR];
  if (platform === 'darwin') return [root + dirname(MACOS_MANAGED_PREFERENCES)];
  return [];
}

export interface FollowOptions {
  readonly log: AgentLog;
  /** Called with each new policy once it is in force (the agent checks its posture again at once). */
  readonly onChange: (policy: PosturePolicy) => void;
  readonly debounceMs?: number;
  /** How often everything is read again whatever the watchers saw; 10 s by default. */
  readonly rereadMs?: number;
}

export interface LiveManagedPosturePolicy {
  /** The policy in force: the last valid one read. */
  readonly current: () => PosturePolicy;
  /** What could not be used at the first reading, one line each (the defaults fill in). */
  readonly problems: readonly string[];
  /** Follows IT's changes until the returned function is called. */
  follow(options: FollowOptions): () => void;
}

/** One entry of the change log: a setting, its value before and after, and where it now comes from. */
interface PolicyChange {
  readonly setting: string;
  readonly from: string;
  readonly to: string;
  readonly source: string;
}

function changesBetween(before: EffectiveConfig, after: EffectiveConfig): PolicyChange[] {
  const shown = (v: unknown): string => (Array.isArray(v) ? `${v.length} entries` : JSON.stringify(v));
  const changes: PolicyChange[] = [];
  for (const setting of POLICY_SETTINGS) {
    const was = before.settings[setting];
    const now = after.settings[setting];
    if (JSON.stringify(was?.value) === JSON.stringify(now?.value)) continue;
    changes.push({ setting, from: shown(was?.value), to: shown(now?.value), source: now?.source ?? 'default' });
  }
  return changes;
}

/** Reads IT's posture policy once, and follows its changes when asked to. */
export async function openManagedPosturePolicy(platform: Platform, where: ManagedLocations = {}): Promise<LiveManagedPosturePolicy> {
  let accepted = await readPolicy(platform, where);
  return {
    current: () => accepted.policy,
    problems: accepted.problems.map(line),
    follow(options) {
      let queue = Promise.resolve();
      let lastRefusal = '';
      let stopped = false;
      const reread = async (): Promise<void> => {
        if (stopped) return;
        let next: Reading;
        try {
          next = await readPolicy(platform, where);
        } catch (e) {
          // The readers turn a bad source into a problem; anything else keeps the policy too.
          next = { config: accepted.config, policy: accepted.policy, problems: [{ source: 'managed configuration', key: null, message: `It could not be read: ${(e as Error).message}` }] };
        }
        if (stopped) return;
        const known = new Set(accepted.problems.map(line));
        const fresh = next.problems.filter((p) => !known.has(line(p)) && (p.key === null || POLICY_SETTINGS.has(p.key)));
        if (fresh.length > 0) {
          const refusal = new AgentError('CONFIG_INVALID', `IT's managed posture policy changed but cannot be used: ${fresh.map(line).join(' ')} The last valid policy stays in force.`);
          // Read again every few seconds: say it once per distinct refusal, not each time.
          if (refusal.message !== lastRefusal) options.log.warn('managed-policy-refused', { code: refusal.code, message: refusal.message });
          lastRefusal = refusal.message;
          return;
        }
        lastRefusal = '';
        const before = accepted;
        accepted = next;
        if (JSON.stringify(next.policy) === JSON.stringify(before.policy)) return;
        options.log.info('managed-policy-changed', { changes: changesBetween(before.config, next.config) });
        options.onChange(next.policy);
      };
      // One reading at a time, in order: an older reading never overwrites a newer one.
      const changed = (): void => {
        queue = queue.then(reread).catch((e: unknown) => options.log.warn('managed-policy-failed', { message: (e as Error).message }));
      };
      const stop = watchFolders(managedPolicyFolders(platform, where.root), changed, { debounceMs: options.debounceMs ?? 300, rereadMs: options.rereadMs ?? 10_000 });
      return () => {
        stopped = true;
        stop();
      };
    },
  };
}

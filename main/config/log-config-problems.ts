// Writes what in the configuration could not be used (a bad value, a setting only IT may set
// found in a person's own file) to the log IT reads, one line each with its key and source.
import type { AgentLog } from '../agent/agent.js';
import type { EffectiveConfig } from './resolve-config.js';

export function logConfigProblems(config: EffectiveConfig, log: AgentLog): void {
  for (const problem of config.problems) log.warn('config-problem', { key: problem.key, source: problem.source, message: problem.message });
}

// The file log's level from IT's logLevel, for the tray as for the system agent: the level is
// read again at every line, so IT's change applies without a restart. The loader already refuses
// a value outside the four levels; should one reach here all the same, the log keeps everything
// (`info`, the default) rather than dropping lines IT may need to read.
import type { LogLevel } from '../agent/agent-log.js';
import type { EffectiveConfig } from './resolve-config.js';

const LEVELS: ReadonlySet<unknown> = new Set<LogLevel>(['error', 'warn', 'info', 'debug']);

function isLogLevel(value: unknown): value is LogLevel {
  return LEVELS.has(value);
}

/** IT's logLevel in these settings, or `info`. */
export function logLevelOf(config: EffectiveConfig): LogLevel {
  const value = config.settings.logLevel?.value;
  return isLogLevel(value) ? value : 'info';
}

/** createFileLog's options that follow the settings in force, whatever they are when a line is written. */
export function fileLogOptions(current: () => EffectiveConfig): { level: () => LogLevel } {
  return { level: () => logLevelOf(current()) };
}

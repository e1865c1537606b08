// The newest status list a verifier accepted (its iat), kept in a file across restarts so a
// restarted verifier refuses an older list replayed to it. The file is replaced whole (a
// temporary file, flushed, then renamed over it), so a crash leaves the old mark or the new
// one, never a torn file. A missing file means no mark yet; anything else unreadable is an
// error, because silently starting without the mark would drop the protection.
import { readFileSync } from 'node:fs';
import { RelyingPartyConfigError } from './errors.js';
import { replaceFile } from './replace-file.js';

const MARK_VERSION = 1;
/** The same bound the token schemas put on a NumericDate (2100-01-01). */
const MAX_IAT = 4_102_444_800;

/** The iat (seconds) stored for the list at `url`, or undefined when the file does not exist. */
export function readStatusMark(path: string, url: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RelyingPartyConfigError('STATUS_STATE_INVALID', `The status list state file ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new RelyingPartyConfigError('STATUS_STATE_INVALID', `The status list state file ${path} is not JSON; remove it only if you know why it is damaged.`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RelyingPartyConfigError('STATUS_STATE_INVALID', `The status list state file ${path} does not hold a state object.`);
  const { version, url: markUrl, iat } = parsed as { version?: unknown; url?: unknown; iat?: unknown };
  if (version !== MARK_VERSION || typeof markUrl !== 'string' || typeof iat !== 'number' || !Number.isInteger(iat) || iat < 0 || iat > MAX_IAT) {
    throw new RelyingPartyConfigError('STATUS_STATE_INVALID', `The status list state file ${path} is damaged (expected {"version":1,"url":...,"iat":<seconds>}).`);
  }
  if (markUrl !== url) throw new RelyingPartyConfigError('STATUS_STATE_INVALID', `The status list state file ${path} belongs to ${markUrl}, not ${url}: use one file per status list.`);
  return iat;
}

export async function writeStatusMark(path: string, url: string, iat: number): Promise<void> {
  await replaceFile(path, `${JSON.stringify({ version: MARK_VERSION, url, iat })}\n`, 0o600);
}

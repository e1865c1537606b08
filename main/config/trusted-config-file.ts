// The system agent's own configuration file (`dta agent --config FILE`, passed by its unit)
// is IT's: it names the service, the enrolment secret and the web pages the agent serves. It
// is trusted only while nobody but root (or the agent's own account) can change it: owned by
// them, not writable by group or others, in a folder nobody else can write either. Windows
// keeps this in the folder's ACL, which the installer sets (SYSTEM and Administrators only).
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentError } from '../../common/errors.js';
import type { Platform } from '../../common/posture.js';

/** Throws CONFIG_UNTRUSTED when someone other than root or `uid` could have written `path`; CONFIG_INVALID when it is not there. */
export function checkConfigFileTrust(path: string, platform: Platform, uid: number | undefined): void {
  if (platform === 'win32' || uid === undefined) return;
  for (const [what, target] of [['file', path], ['folder', dirname(path)]] as const) {
    let st;
    try {
      st = statSync(target);
    } catch (e) {
      throw new AgentError('CONFIG_INVALID', `The agent configuration ${path} cannot be read: ${(e as Error).message}`, { cause: e });
    }
    if (st.uid !== 0 && st.uid !== uid) {
      throw new AgentError('CONFIG_UNTRUSTED', `The agent configuration's ${what} ${target} belongs to user ${st.uid}, not to root: the agent does not trust it. IT: chown root ${target}.`);
    }
    // A shared folder with the sticky bit (/tmp) still lets only the owner replace the file.
    const sticky = what === 'folder' && (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && !sticky) {
      throw new AgentError('CONFIG_UNTRUSTED', `The agent configuration's ${what} ${target} can be changed by other accounts (mode ${(st.mode & 0o777).toString(8)}): the agent does not trust it. IT: chmod go-w ${target}.`);
    }
  }
}

// Where the machine's agent listens for its local clients, per OS (see docs/system-agent.md).
import type { Platform } from '../../common/posture.js';

export function defaultIpcPath(platform: Platform): string {
  switch (platform) {
    case 'win32':
      return '\\\\.\\pipe\\dta-agent';
    case 'darwin':
      return '/var/run/dta/agent.sock';
    case 'linux':
      return '/run/dta/agent.sock';
  }
}

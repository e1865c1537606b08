// A service policy whose tiers depend on os-patch alone (acting at once), and the managed
// support data entry that ends support for this machine's release: with them a test sees a
// managed posture policy change move a real agent on this machine from `full` to `limited`,
// whatever its disk encryption, firewall or sessions.
import { readFileSync } from 'node:fs';

export const OS_PATCH_TIERS_POLICY = `version: 1
tokenLifetimeMinutes: 5
certificateLifetimeDays: 90
rotateDeviceKeyOnRenewal: false
enrolment:
  mode: secret
tiers:
  full:
    os-patch: [pass, warn]
  limited:
    os-patch: [pass, warn, fail, unknown]
graceHours:
  os-patch: 0
notApplicable:
  linux: [antivirus]
hardwareKeyRequiredFor: []
`;

/** This machine's os-release ID and VERSION_ID, which the os-patch check judges. */
export function thisRelease(): { id: string; versionId: string } {
  const fields = new Map(
    readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .map((l) => /^([A-Z_]+)="?([^"]*)"?$/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  );
  return { id: fields.get('ID') ?? '', versionId: fields.get('VERSION_ID') ?? '' };
}

/** A postureSupportData entry (managed policy) saying this machine's release left support in 2020. */
export function supportEndedEntry(): string {
  return JSON.stringify({ kind: 'linuxRelease', ...thisRelease(), endsOn: '2020-01-31', extendedEndsOn: '2020-06-30' });
}

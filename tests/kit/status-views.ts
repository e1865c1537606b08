// A StatusView for every agent state, as the main process would send it to the window.
import type { AgentState, AgentStateName } from '../../common/agent-state.js';
import type { Locale, StatusView } from '../../common/ipc.js';
import type { CheckResult } from '../../common/posture.js';

const AT = '2026-11-29T09:30:00.000Z';

function check(id: CheckResult['id'], verdict: CheckResult['verdict'], remediation: string, reason: string): CheckResult {
  return { id, verdict, remediation, reason, facts: {}, durationMs: 12 };
}

const healthy = [
  check('os-patch', 'pass', 'none', 'Windows 11 (build 26100.4349) is supported and was updated 6 days ago.'),
  check('disk-encryption', 'pass', 'none', 'The system drive is encrypted with BitLocker.'),
  check('firewall', 'pass', 'none', 'Windows Defender Firewall is on for every network profile.'),
  check('screen-lock', 'pass', 'none', 'The screen locks after 10 minutes of inactivity.'),
  check('antivirus', 'pass', 'none', 'Antivirus protection is on (Windows Defender).'),
];

function report(checks: CheckResult[]): AgentState['report'] {
  return { schema: 'dta-posture-report/1', collectedAt: AT, platform: 'win32', verdict: checks.some((c) => c.verdict === 'fail') ? 'fail' : 'pass', checks, durationMs: 180 };
}

const replace = (id: CheckResult['id'], c: CheckResult): CheckResult[] => healthy.map((h) => (h.id === id ? c : h));

export const STATE_VIEWS: Record<AgentStateName, Omit<AgentState, 'state' | 'since'>> = {
  starting: { reason: 'The agent is starting.', nextAction: 'Checking this device.', tier: null, tokenExpiresAt: null, graceUntil: null, lastCheckAt: null, deviceId: null, errorCode: null, report: null },
  enrolling: { reason: 'This device waits for IT to approve it.', nextAction: 'The agent asks again in 300 seconds.', tier: null, tokenExpiresAt: null, graceUntil: null, lastCheckAt: null, deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c', errorCode: null, report: null },
  compliant: { reason: 'This device may open patient data.', nextAction: 'Checked again before 09:35.', tier: 'full', tokenExpiresAt: '2026-11-29T09:35:00.000Z', graceUntil: null, lastCheckAt: AT, deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c', errorCode: null, report: report(healthy) },
  warning: {
    reason: 'This device may open patient data, but needs attention: No security update was installed for 41 days.',
    nextAction: 'Fix it before 2 Dec 09:30 to keep access.',
    tier: 'full',
    tokenExpiresAt: '2026-11-29T09:35:00.000Z',
    graceUntil: '2026-12-02T09:30:00.000Z',
    lastCheckAt: AT,
    deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c',
    errorCode: null,
    report: report(replace('os-patch', check('os-patch', 'fail', 'os.update-now', 'No security update was installed for 61 days (the limit is 60).'))),
  },
  blocked: {
    reason: 'This device may not open patient data: Windows Defender Firewall is off for the Public network profile in use.',
    nextAction: 'Fix the checks shown, then choose "Check now".',
    tier: 'none',
    tokenExpiresAt: '2026-11-29T09:35:00.000Z',
    graceUntil: null,
    lastCheckAt: AT,
    deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c',
    errorCode: null,
    report: report(replace('firewall', check('firewall', 'fail', 'firewall.enable-windows', 'Windows Defender Firewall is off for the Public network profile in use.'))),
  },
  offline: { reason: 'The device trust service cannot be reached; access continues until 09:35 on the last check.', nextAction: 'Retrying in 24 s.', tier: 'full', tokenExpiresAt: '2026-11-29T09:35:00.000Z', graceUntil: null, lastCheckAt: AT, deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c', errorCode: 'SERVICE_UNREACHABLE', report: report(healthy) },
  error: { reason: 'The OS keystore is locked, so the device key cannot be read. Unlock your keyring (sign in again) and retry.', nextAction: 'Retrying later; contact IT if this persists.', tier: null, tokenExpiresAt: null, graceUntil: null, lastCheckAt: null, deviceId: '0ff59f5036a1a7b81e3fb4b2010c918c', errorCode: 'KEYSTORE_LOCKED', report: null },
};

export function statusView(state: AgentStateName, locale: Locale): StatusView {
  return {
    agent: { state, since: AT, ...STATE_VIEWS[state] },
    platform: 'win32',
    locale,
    version: '0.1.0',
    serviceUrl: 'https://dts.hospital.example',
    managedSettings: ['serviceUrl', 'allowQuit'],
  };
}

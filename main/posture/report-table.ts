// A readable table of a posture report for terminals and support tickets.
import type { PostureReport, Verdict } from '../../common/posture.js';

const LABEL: Record<string, string> = {
  'os-patch': 'OS patch level',
  'disk-encryption': 'Disk encryption',
  firewall: 'Firewall',
  'screen-lock': 'Screen lock',
  antivirus: 'Antivirus / EDR',
};

const MARK: Record<Verdict, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', unknown: '??? ' };

export function formatReportTable(report: PostureReport, options: { color?: boolean } = {}): string {
  const color = options.color ?? false;
  const paint = (v: Verdict, s: string): string => {
    if (!color) return s;
    const code = v === 'pass' ? 32 : v === 'warn' ? 33 : v === 'fail' ? 31 : 35;
    return `\u001b[${code}m${s}\u001b[0m`;
  };
  const rows = report.checks.map((c) => [LABEL[c.id] ?? c.id, c.verdict, `${c.durationMs.toFixed(0)} ms`, c.reason, c.remediation] as const);
  const w0 = Math.max(5, ...rows.map((r) => r[0].length));
  const w2 = Math.max(4, ...rows.map((r) => r[2].length));
  const lines = [
    `Device posture on ${report.platform} at ${report.collectedAt}: ${paint(report.verdict, report.verdict.toUpperCase())} (${report.durationMs.toFixed(0)} ms)`,
    '',
    `${'Check'.padEnd(w0)}  Verdict  ${'Time'.padStart(w2)}  Reason`,
    `${'-'.repeat(w0)}  -------  ${'-'.repeat(w2)}  ${'-'.repeat(40)}`,
    ...rows.map(([label, verdict, time, reason, fix]) => `${label.padEnd(w0)}  ${paint(verdict, MARK[verdict])}     ${time.padStart(w2)}  ${reason}${fix !== 'none' ? ` [${fix}]` : ''}`),
  ];
  return `${lines.join('\n')}\n`;
}

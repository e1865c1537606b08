// What reading /proc/net instead of starting programs saves the Linux firewall check, in one run:
// the check as it ships (legacy table names and IPv6 addresses read from /proc/net; with nftables
// alone nft is the only program) against the same check with those files made unreadable, which
// falls back to the programs as before (iptables-legacy-save, ip6tables-legacy-save and
// ip -6 address show besides nft). The two alternate, ROUNDS checks each, in a network namespace
// holding a workstation's nftables firewall; the bench process itself runs inside it, as the agent
// does, so /proc/net and the programs are the namespace's. Prints per check the CPU of the
// programs started (reaped children, /proc/self/stat cutime + cstime) and of this process (utime +
// stime, which holds each fork), the wall time, and the ratios of the two ways; the verdicts must
// agree. Run as root: node --import tsx bench/linux-firewall-probes.bench.ts (BENCH_ROUNDS).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CheckResult } from '../common/posture.js';
import { defaultPosturePolicy } from '../common/posture.js';
import { linuxFirewallCheck } from '../main/posture/checks/firewall/probe.linux.js';
import { createCommandRunner } from '../main/posture/command-runner.js';
import type { CommandRunner } from '../main/posture/command-runner.js';
import { runPosture } from '../main/posture/engine.js';
import { createLiveProbeSource } from '../main/posture/live-probe-source.js';
import { allowedCommands } from '../main/posture/platform.js';
import { NetNamespace } from '../tests/kit/netns.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const INSIDE = 'DTA_BENCH_FIREWALL_PROBES_IN_NETNS';

if (process.env[INSIDE] !== '1') {
  const ns = NetNamespace.withWorkstationFirewall('dta-fwprobes');
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_TEST')));
    execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', import.meta.filename], { stdio: 'inherit', env: { ...env, [INSIDE]: '1' } });
  } finally {
    ns.delete();
  }
} else {
  await measure();
}

interface Way {
  readonly name: string;
  readonly filePath?: (path: string) => string;
  cpuSelf: number;
  cpuPrograms: number;
  wallMs: number;
  starts: number;
  verdicts: Set<string>;
}

/** utime + stime of this process and cutime + cstime of its reaped children, in clock ticks (/proc/self/stat). */
function ticks(): { self: number; children: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(fields[i - 3]);
  return { self: n(14) + n(15), children: n(16) + n(17) };
}

async function measure(): Promise<void> {
  const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  let starts = 0;
  const inner = createCommandRunner({ allowList: allowedCommands('linux') });
  const runner: CommandRunner = {
    run(request) {
      starts += 1;
      return inner.run(request);
    },
  };
  // A directory opens but cannot be read (EISDIR): the check then knows nothing from the file and starts the program, as before.
  const unreadable = (path: string): string => (path.startsWith('/proc/net/') ? '/proc/net' : path);
  const ways: Way[] = [
    { name: 'files', cpuSelf: 0, cpuPrograms: 0, wallMs: 0, starts: 0, verdicts: new Set() },
    { name: 'programs', filePath: unreadable, cpuSelf: 0, cpuPrograms: 0, wallMs: 0, starts: 0, verdicts: new Set() },
  ];
  const check = async (way: Way): Promise<CheckResult> => {
    const source = createLiveProbeSource(way.filePath ? { runner, filePath: way.filePath } : { runner });
    const { report } = await runPosture({ platform: 'linux', checks: [linuxFirewallCheck], source, policy: { ...defaultPosturePolicy(), checkDeadlineMs: 30_000 }, now: () => new Date() });
    const result = report.checks[0];
    if (!result) throw new Error('the firewall check gave no result');
    return result;
  };
  for (const way of ways) await check(way); // warm: modules, JIT
  for (let round = 0; round < ROUNDS; round++) {
    for (const way of round % 2 === 0 ? ways : [...ways].reverse()) {
      const before = ticks();
      const startsBefore = starts;
      const t0 = performance.now();
      const result = await check(way);
      way.wallMs += performance.now() - t0;
      const after = ticks();
      way.cpuSelf += after.self - before.self;
      way.cpuPrograms += after.children - before.children;
      way.starts += starts - startsBefore;
      way.verdicts.add(result.verdict);
    }
  }
  const per = (total: number): number => total / ROUNDS;
  const ms = (t: number): number => (per(t) * 1000) / hz;
  const [files, programs] = ways as [Way, Way];
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`Linux firewall check, nftables alone, ${String(ROUNDS)} checks each way alternating; load average ${load} at the end`);
  for (const w of ways) {
    console.log(
      `${w.name}: ${per(w.starts).toFixed(1)} programs per check; CPU per check: programs ${ms(w.cpuPrograms).toFixed(1)} ms, this process ${ms(w.cpuSelf).toFixed(1)} ms; wall ${per(w.wallMs).toFixed(1)} ms; verdicts ${[...w.verdicts].join(', ')}`,
    );
  }
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');
  console.log(
    `files / programs: programs' CPU ${ratio(files.cpuPrograms, programs.cpuPrograms)}, this process's CPU ${ratio(files.cpuSelf, programs.cpuSelf)}, both ${ratio(files.cpuPrograms + files.cpuSelf, programs.cpuPrograms + programs.cpuSelf)}, wall ${ratio(files.wallMs, programs.wallMs)}`,
  );
  if (files.verdicts.size !== 1 || programs.verdicts.size !== 1 || [...files.verdicts][0] !== [...programs.verdicts][0]) {
    console.error('the two ways came to different verdicts');
    process.exitCode = 1;
  }
}

// A throwaway network namespace (ip netns) for tests of the real firewall.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { CheckResult } from '../../common/posture.js';

const ROOT = join(import.meta.dirname, '..', '..');

export class NetNamespace {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  static create(prefix = 'dta'): NetNamespace {
    const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    execFileSync('ip', ['netns', 'add', name]);
    return new NetNamespace(name);
  }

  exec(argv: readonly string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, ...argv], { input, encoding: 'utf8' });
  }

  nft(ruleset: string): void {
    this.exec(['nft', '-f', '-'], ruleset);
  }

  /** Runs one posture check with the agent's own code inside this namespace. */
  runCheck(id: string): CheckResult {
    const out = this.exec([process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'kit', 'run-posture-check.ts'), id]);
    return JSON.parse(out) as CheckResult;
  }

  delete(): void {
    execFileSync('ip', ['netns', 'delete', this.name]);
  }
}

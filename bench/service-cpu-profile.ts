// Reads the V8 CPU profile a bench's service wrote (BENCH_CPU_PROF) and prints where the
// attestation phase spent its time: the profile also holds start-up, module compilation and
// enrolment, which hide the per-attestation costs. V8 stamps samples with the same monotonic
// clock as process.hrtime, so the bench's window selects the samples of its attestations.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A span of the monotonic clock, in microseconds (process.hrtime.bigint() / 1000). */
export interface ProfileWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

export interface CostLine {
  readonly name: string;
  /** Share of the busy (not idle) time in the window. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  /** Functions by the time spent in them alone. */
  readonly self: readonly CostLine[];
  /** Functions by the time spent in them and what they called. */
  readonly inclusive: readonly CostLine[];
}

const IDLE = '(idle)';

function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(`file://${root}/`, '').replace(/^.*node_modules\//, '');
  return `${functionName === '' ? '(anonymous)' : functionName} ${where}${where === '' ? '' : `:${lineNumber + 1}`}`;
}

/** Sums the samples of `profile` that fall in `window` by function; `top` lines of each kind. */
export function summarizeProfile(profile: CpuProfile, window: ProfileWindow, root: string, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const timeByNode = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const id = profile.samples[i];
    if (id === undefined || at < window.fromUs || at > window.toUs) continue;
    timeByNode.set(id, (timeByNode.get(id) ?? 0) + delta);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (const [id, time] of timeByNode) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const name = frameName(node, root);
    if (node.callFrame.functionName === IDLE) {
      idle += time;
      continue;
    }
    busy += time;
    self.set(name, (self.get(name) ?? 0) + time);
    // A recursive function counts once per sample.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const frame = byId.get(cur);
      if (frame === undefined) break;
      const n = frameName(frame, root);
      if (n.startsWith('(root)') || seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + time);
    }
  }
  const lines = (m: Map<string, number>): CostLine[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, time]) => ({ name, share: busy === 0 ? 0 : time / busy }));
  return { busyMs: busy / 1000, idleMs: idle / 1000, self: lines(self), inclusive: lines(inclusive) };
}

/**
 * The summary of the profile in `dir` that was busiest during `window`: the service's main
 * thread (a tsx loader thread writes an almost idle one of its own, and the folder may hold
 * profiles of earlier runs, which cover none of the window).
 */
export function summarizeProfileDir(dir: string, window: ProfileWindow, root: string, top?: number): ProfileSummary {
  const summaries = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarizeProfile(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile, window, root, top))
    .sort((a, b) => b.busyMs - a.busyMs);
  const busiest = summaries[0];
  if (busiest === undefined || busiest.busyMs === 0) throw new Error(`no .cpuprofile in ${dir} covers the attestations`);
  return busiest;
}

export function printProfileSummary(summary: ProfileSummary): void {
  const pct = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
  console.log(`service CPU during the attestations: ${summary.busyMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle`);
  console.log('most time in the function itself:');
  for (const l of summary.self) console.log(`  ${pct(l.share)}  ${l.name}`);
  console.log('most time in the function and what it called:');
  for (const l of summary.inclusive) console.log(`  ${pct(l.share)}  ${l.name}`);
}

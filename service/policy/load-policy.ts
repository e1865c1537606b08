// Reads the policy file; a bad policy is refused with the line and the reason, and the
// policy in force stays. Changes to the file are picked up without a restart.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { basename, dirname } from 'node:path';
import { schemaIssues } from '../../common/validate.js';
import { ServiceError } from '../errors.js';
import type { Policy } from './policy-schema.js';
import { PolicySchema } from './policy-schema.js';

export interface PolicyProblem {
  readonly line: number | null;
  readonly message: string;
}

/** Parses and validates policy text; throws POLICY_INVALID naming the line(s). */
export function parsePolicy(text: string, source = 'policy'): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: PolicyProblem[] = [];
  for (const error of doc.errors) {
    // Without prettyErrors the error carries its offset, not its line: the counter gives the line.
    problems.push({ line: error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line, message: error.message.split('\n')[0] ?? error.message });
  }
  let value: unknown;
  if (problems.length === 0) {
    try {
      // yaml refuses aliases that would expand past its limit (a "billion laughs" policy).
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      problems.push({ line: null, message: e instanceof Error ? e.message : String(e) });
    }
  }
  if (problems.length === 0) {
    for (const issue of schemaIssues(PolicySchema, value, 5)) {
      const path = issue.path.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      for (let i = path.length - 1; !node?.range && i >= 0; i--) node = doc.getIn(path.slice(0, i), true) as typeof node;
      const line = node?.range ? lineCounter.linePos(node.range[0]).line : null;
      const message = issue.message === 'Expected union value' ? 'is not one of the allowed values' : issue.message;
      problems.push({ line, message: `${issue.path === '/' ? 'the policy' : issue.path}: ${message}` });
    }
    if (problems.length === 0) return value as Policy;
  }
  const summary = problems.map((p) => `${source}${p.line !== null ? `:${p.line}` : ''}: ${p.message}`).join('; ');
  throw Object.assign(new ServiceError('POLICY_INVALID', `The policy was refused: ${summary}`), { problems });
}

/** The policy in force with the text it was parsed from, as applied (its history keeps both). */
export interface AppliedPolicy {
  readonly policy: Policy;
  readonly text: string;
  /** SHA-256 (hex) of `text`. */
  readonly sha256: string;
}

export interface PolicyStore {
  current(): Policy;
  applied(): AppliedPolicy;
  /** Calls `listener` with every policy applied from now on (a reload or a change of the file); returns its removal. */
  onApplied(listener: (applied: AppliedPolicy) => void): () => void;
  /** Reads the file again; returns the problems when it was refused (the old policy stays). */
  reload(): Promise<{ applied: boolean; version: number; problems: PolicyProblem[] }>;
  close(): void;
}

export async function openPolicyFile(path: string, onChange: (result: { applied: boolean; version: number; problems: PolicyProblem[] }) => void = () => undefined): Promise<PolicyStore> {
  const appliedFrom = (text: string, parsed: Policy): AppliedPolicy => ({ policy: parsed, text, sha256: createHash('sha256').update(text).digest('hex') });
  const firstText = await readFile(path, 'utf8');
  let policy = parsePolicy(firstText, path);
  let applied = appliedFrom(firstText, policy);
  const listeners = new Set<(applied: AppliedPolicy) => void>();
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;

  const reload = async (): Promise<{ applied: boolean; version: number; problems: PolicyProblem[] }> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      return { applied: false, version: policy.version, problems: [{ line: null, message: `cannot read ${path}: ${(e as Error).message}` }] };
    }
    try {
      const next = parsePolicy(text, path);
      if (next.version < policy.version) {
        return { applied: false, version: policy.version, problems: [{ line: null, message: `version ${next.version} is older than the policy in force (${policy.version})` }] };
      }
      policy = next;
      applied = appliedFrom(text, next);
      for (const listener of listeners) listener(applied);
      return { applied: true, version: policy.version, problems: [] };
    } catch (e) {
      const problems = (e as { problems?: PolicyProblem[] }).problems ?? [{ line: null, message: (e as Error).message }];
      return { applied: false, version: policy.version, problems };
    }
  };

  try {
    // The folder, not the file: editors, sed -i and config management save by renaming a new
    // file over the old one, and a watch on the file would follow the old one away.
    const name = basename(path);
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      // Editors write in several steps: wait until the file settles.
      clearTimeout(timer);
      timer = setTimeout(() => void reload().then(onChange), 200);
    });
  } catch {
    watcher = undefined;
  }
  return {
    current: () => policy,
    applied: () => applied,
    onApplied(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

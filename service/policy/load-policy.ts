// Reads the policy file; a bad policy is refused with the line and the reason, and the
// policy in force stays. Changes to the file are picked up without a restart.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { readYamlWithLines, schemaProblems } from '../yaml-with-lines.js';
import { ServiceError } from '../errors.js';
import type { Policy } from './policy-schema.js';
import { PolicySchema } from './policy-schema.js';

export interface PolicyProblem {
  readonly line: number | null;
  readonly message: string;
}

/** Parses and validates policy text; throws POLICY_INVALID naming the line(s). */
export function parsePolicy(text: string, source = 'policy'): Policy {
  const read = readYamlWithLines(text);
  const problems: PolicyProblem[] = read.ok ? schemaProblems(PolicySchema, read.value, 5, read.lineOf, 'the policy') : read.problems;
  if (read.ok && problems.length === 0) return read.value as Policy;
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

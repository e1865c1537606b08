// YAML that people write (the service's policy, dta-authz's configuration) read one way: keys
// unique, aliases bounded (a "billion laughs" document is a problem, not a crash or a stall),
// and every problem, in the YAML or against the schema, with the line it sits on, so that the
// one who wrote the file can find it.
import type { TSchema } from '@sinclair/typebox';
import { LineCounter, parseDocument } from 'yaml';
import { schemaIssues } from '../common/validate.js';

export interface YamlProblem {
  /** 1-based; null when the problem has no place (the document as a whole). */
  readonly line: number | null;
  readonly message: string;
}

/** Aliases a document may expand: far more than a hand-written file uses, far fewer than an attack needs. */
const MAX_ALIAS_COUNT = 100;

export type YamlRead =
  | {
      readonly ok: true;
      readonly value: unknown;
      /** The line of the value at `path`, or of its nearest ancestor that has one. */
      readonly lineOf: (path: readonly (string | number)[]) => number | null;
    }
  | { readonly ok: false; readonly problems: YamlProblem[] };

export function readYamlWithLines(text: string): YamlRead {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  // Without prettyErrors the error carries its offset, not its line: the counter gives the line.
  const problems: YamlProblem[] = doc.errors.map((error) => ({ line: lineCounter.linePos(error.pos[0]).line, message: error.message.split('\n')[0] ?? error.message }));
  if (problems.length > 0) return { ok: false, problems };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return { ok: false, problems: [{ line: null, message: e instanceof Error ? e.message : String(e) }] };
  }
  const lineOf = (path: readonly (string | number)[]): number | null => {
    let node: { range?: [number, number, number] } | undefined;
    for (let i = path.length; !node?.range && i >= 0; i--) node = doc.getIn(path.slice(0, i), true) as typeof node;
    return node?.range ? lineCounter.linePos(node.range[0]).line : null;
  };
  return { ok: true, value, lineOf };
}

/** The schema's objections to `value` (at most `max`), each with its line; `whole` names the document when the root itself is wrong. */
export function schemaProblems(schema: TSchema, value: unknown, max: number, lineOf: (path: readonly (string | number)[]) => number | null, whole: string): YamlProblem[] {
  return schemaIssues(schema, value, max).map((issue) => {
    const path = issue.path.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    const message = issue.message === 'Expected union value' ? 'is not one of the allowed values' : issue.message;
    return { line: lineOf(path), message: `${issue.path === '/' ? whole : issue.path}: ${message}` };
  });
}

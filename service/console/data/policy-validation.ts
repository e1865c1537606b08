// A draft policy checked by the service's own parser, so the console shows exactly the problems
// (with their lines) that the service would refuse it for.
import { ServiceError } from '../../errors.js';
import type { PolicyProblem } from '../../policy/load-policy.js';
import { parsePolicy } from '../../policy/load-policy.js';
import type { Policy } from '../../policy/policy-schema.js';
import type { PolicyValidation } from './console-data-types.js';

/** The longest draft accepted (a policy is a page of YAML; this bounds the parser's work). */
export const MAX_POLICY_TEXT = 64 * 1024;

export function validatePolicyDraft(text: string): PolicyValidation {
  const parsed = parseDraft(text);
  return parsed.ok ? { valid: true, problems: [], version: parsed.policy.version } : { valid: false, problems: parsed.problems, version: null };
}

/** The draft as a policy, or POLICY_INVALID naming its lines (BAD_REQUEST when it is not text of a sane size). */
export function parseDraftOrThrow(text: string): Policy {
  const parsed = parseDraft(text);
  if (parsed.ok) return parsed.policy;
  const summary = parsed.problems.map((p) => `${p.line !== null ? `line ${p.line}: ` : ''}${p.message}`).join('; ');
  throw Object.assign(new ServiceError('POLICY_INVALID', `The draft policy is not valid: ${summary}`), { problems: parsed.problems });
}

function parseDraft(text: string): { ok: true; policy: Policy } | { ok: false; problems: PolicyProblem[] } {
  if (typeof text !== 'string') throw new ServiceError('BAD_REQUEST', 'The draft policy must be text.');
  if (text.length > MAX_POLICY_TEXT) throw new ServiceError('BAD_REQUEST', `The draft policy is longer than ${MAX_POLICY_TEXT} characters.`);
  try {
    return { ok: true, policy: parsePolicy(text, 'draft') };
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'POLICY_INVALID') {
      const problems = (e as ServiceError & { problems?: PolicyProblem[] }).problems ?? [{ line: null, message: e.message }];
      return { ok: false, problems };
    }
    throw e;
  }
}

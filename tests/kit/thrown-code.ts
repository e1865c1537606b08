// What a call that should refuse threw, as a test asserts it: the AgentError's code, or a
// marker that it threw something else, or undefined when it did not throw at all.
import { isAgentError } from '../../common/errors.js';

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isAgentError(e) ? e.code : 'not an AgentError';
  }
  return undefined;
}

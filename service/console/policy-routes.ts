// The console's policy page: GET /console/policy (the policy in force, its history, an older
// version by `?version=`) and POST /console/policy (a draft checked by the service's parser, and
// with run=what-if also evaluated against every device's last posture). The POST changes
// nothing, but carries a policy and spends the instance's one what-if at a time, so it passes
// the same origin and CSRF checks as every other POST. Every role may use it; no route saves a
// policy (the service applies the policy file IT's configuration management writes).
import type { FastifyInstance } from 'fastify';
import type { ConsolePageDeps } from './console-page-deps.js';
import { ConsoleError } from './console-errors.js';
import type { PolicyVersionEntry, WhatIfResult } from './data/console-data-types.js';
import { MAX_POLICY_TEXT } from './data/policy-validation.js';
import { renderPolicyPage, WHAT_IF_LISTED } from './pages/policy-page.js';
import { queryFields } from './request-input.js';

// A browser sends a textarea's line breaks as CRLF, and URL-encoding makes a character of
// German text up to nine bytes: the form's limits leave room for both, the draft's own limit
// is checked once the line breaks are plain again.
const POLICY_FORM = new Map([
  ['csrf', 128],
  ['draft', 2 * MAX_POLICY_TEXT],
  ['run', 16],
]);
const POLICY_BODY_LIMIT = 9 * 2 * MAX_POLICY_TEXT + 1024;

export function registerPolicyRoutes(scope: FastifyInstance, deps: ConsolePageDeps): void {
  const { data, readOrRefuse } = deps;

  scope.get('/policy', async (request, reply) => {
    const session = await deps.requireSession(request);
    const asked = queryFields(request, new Map([['version', 10]])).get('version');
    if (asked !== undefined && !/^[1-9][0-9]{0,9}$/.test(asked)) throw new ConsoleError('BAD_INPUT', 'A policy version is a whole number from 1.');
    const history = await data.policyHistory();
    let shown: PolicyVersionEntry | null = null;
    if (asked !== undefined) {
      shown = history.versions.find((v) => v.version === Number(asked)) ?? null;
      if (shown === null) throw new ConsoleError('NOT_FOUND', `No policy version ${asked} was recorded.`);
    }
    return deps.page(reply, renderPolicyPage(deps.context(request, session), { history, shown, draft: history.current.text, validation: null, whatIf: null, csrf: session.csrfToken }));
  });

  scope.post('/policy', { bodyLimit: POLICY_BODY_LIMIT }, async (request, reply) => {
    const { session, fields } = await deps.requirePost(request, POLICY_FORM);
    const run = fields.get('run');
    if (run !== 'validate' && run !== 'what-if') throw new ConsoleError('BAD_INPUT', 'The form runs validate or what-if.');
    const draft = (fields.get('draft') ?? '').replace(/\r\n?/g, '\n');
    if (draft.trim() === '') throw new ConsoleError('BAD_INPUT', 'Paste a draft policy first.');
    if (draft.length > MAX_POLICY_TEXT) throw new ConsoleError('BAD_INPUT', `The draft policy is longer than ${MAX_POLICY_TEXT} characters.`);
    const validation = await readOrRefuse(() => Promise.resolve(data.validatePolicy(draft)));
    let whatIf: WhatIfResult | null = null;
    if (run === 'what-if' && validation.valid) whatIf = await readOrRefuse(() => data.whatIf({ draftText: draft, changedOnly: true, limit: WHAT_IF_LISTED }));
    const history = await data.policyHistory();
    return deps.page(reply, renderPolicyPage(deps.context(request, session), { history, shown: null, draft, validation, whatIf, csrf: session.csrfToken }), validation.valid ? 200 : 422);
  });
}

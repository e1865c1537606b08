// Every POST of the console passes two checks, each enough on its own to stop a forged request:
// the browser says it came from the console's own origin, and the form carries the session's
// CSRF token. Browsers set Sec-Fetch-Site themselves (no page can forge it): same-origin passes.
// Under the console's Referrer-Policy (no-referrer) a browser sends `Origin: null` with a form
// POST, so Origin decides only where Sec-Fetch-Site is missing, and then it must be exact. A
// request with neither is refused.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ConsoleError } from './console-errors.js';

export function checkSameOrigin(request: FastifyRequest, origin: string): void {
  const site = request.headers['sec-fetch-site'];
  const sent = request.headers.origin;
  if (site !== undefined) {
    if (site !== 'same-origin') throw new ConsoleError('CSRF_REFUSED', `The request came from another site (Sec-Fetch-Site: ${String(site).slice(0, 20)}).`);
    if (sent !== undefined && sent !== 'null' && sent !== origin) throw new ConsoleError('CSRF_REFUSED', `The request came from another origin (${sent.slice(0, 100)}).`);
    return;
  }
  if (sent === undefined) throw new ConsoleError('CSRF_REFUSED', 'The request names no origin.');
  if (sent !== origin) throw new ConsoleError('CSRF_REFUSED', `The request came from another origin (${sent.slice(0, 100)}).`);
}

export function checkCsrfToken(sent: string | undefined, expected: string): void {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  if (sent === undefined || sent === '' || !timingSafeEqual(digest(sent), digest(expected))) throw new ConsoleError('CSRF_REFUSED', 'The form carries no valid CSRF token.');
}

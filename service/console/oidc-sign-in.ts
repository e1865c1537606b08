// Sign-in through the hospital's OpenID provider with openid-client: the authorization code
// flow with PKCE (S256), state and nonce, the provider found by discovery (its issuer must be
// exactly the configured one) and the person's groups read from the ID token, or from the
// UserInfo endpoint when the provider leaves them out of it. Every failure is a ConsoleError:
// the provider unreachable (PROVIDER_UNAVAILABLE), anything else about the answer
// (SIGN_IN_FAILED: a wrong issuer, a replayed or foreign code, a bad signature or nonce).
import * as oidc from 'openid-client';
import type { ConsoleSettings } from './console-config.js';
import { isLoopbackHttp } from './console-config.js';
import { ConsoleError } from './console-errors.js';
import type { PendingSignIn } from './session-store.js';

export interface SignedInPerson {
  readonly sub: string;
  readonly name: string;
  readonly groups: readonly string[];
}

export interface OidcSignIn {
  /** A new sign-in: where to send the browser, and what its callback is checked against. */
  begin(): Promise<{ url: string; pending: PendingSignIn }>;
  /** Checks the provider's answer at `callbackUrl` against `pending` and redeems the code. */
  finish(callbackUrl: URL, pending: PendingSignIn): Promise<SignedInPerson>;
  /** The provider's sign-out page, when it has one (RP-initiated logout). */
  endSessionUrl(): Promise<string | null>;
}

/** How long one call to the provider may take. */
const PROVIDER_TIMEOUT_SECONDS = 10;
const MAX_NAME = 128;

export function createOidcSignIn(settings: ConsoleSettings): OidcSignIn {
  let discovered: Promise<oidc.Configuration> | null = null;
  // Discovery waits for the first sign-in, so a provider that is down never stops the service
  // starting; a failed discovery is tried again at the next sign-in.
  const configuration = (): Promise<oidc.Configuration> => {
    discovered ??= oidc
      .discovery(settings.issuer, settings.clientId, undefined, settings.clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(settings.clientSecret), {
        timeout: PROVIDER_TIMEOUT_SECONDS,
        ...(isLoopbackHttp(settings.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((e: unknown) => {
        discovered = null;
        throw providerError(e, 'discovery');
      });
    return discovered;
  };

  return {
    async begin() {
      const config = await configuration();
      const pending: PendingSignIn = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: settings.redirectUri,
        scope: settings.scopes.join(' '),
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      });
      return { url: url.href, pending };
    },

    async finish(callbackUrl, pending) {
      const config = await configuration();
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true }, { redirect_uri: settings.redirectUri });
      } catch (e) {
        throw providerError(e, 'the code exchange');
      }
      const claims = tokens.claims();
      if (claims === undefined) throw new ConsoleError('SIGN_IN_FAILED', 'The provider returned no ID token.');
      let groups = groupsIn(claims, settings.groupsClaim);
      if (groups === null && config.serverMetadata().userinfo_endpoint !== undefined) {
        try {
          groups = groupsIn(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub), settings.groupsClaim);
        } catch (e) {
          throw providerError(e, 'UserInfo');
        }
      }
      return { sub: claims.sub, name: displayName(claims), groups: groups ?? [] };
    },

    async endSessionUrl() {
      let config: oidc.Configuration;
      try {
        config = await configuration();
      } catch {
        return null; // the local session is ended anyway
      }
      if (config.serverMetadata().end_session_endpoint === undefined) return null;
      return oidc.buildEndSessionUrl(config, { client_id: settings.clientId, post_logout_redirect_uri: new URL('/console/signed-out', settings.publicUrl).href }).href;
    },
  };
}

/** The groups claim as a list of strings; null when the claim is absent. */
function groupsIn(claims: Readonly<Record<string, unknown>>, claim: string): string[] | null {
  if (!Object.hasOwn(claims, claim)) return null;
  const value: unknown = claims[claim];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string').slice(0, 1000);
  return [];
}

/** A name for the audit log and the page header: printable, bounded. */
function displayName(claims: oidc.IDToken): string {
  for (const key of ['name', 'preferred_username', 'email'] as const) {
    const value: unknown = claims[key];
    if (typeof value === 'string') {
      const clean = value.replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, MAX_NAME);
      if (clean !== '') return clean;
    }
  }
  return claims.sub.slice(0, MAX_NAME);
}

function providerError(e: unknown, step: string): ConsoleError {
  if (e instanceof ConsoleError) return e;
  const message = e instanceof Error ? e.message : String(e);
  // A network failure or a timeout says nothing about the answer: the provider is unreachable.
  const unreachable = e instanceof TypeError || (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'));
  return new ConsoleError(unreachable ? 'PROVIDER_UNAVAILABLE' : 'SIGN_IN_FAILED', `The OpenID provider's ${step} failed: ${message}`, { cause: e });
}

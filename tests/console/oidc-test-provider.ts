// A real OpenID provider for the console's tests (oidc-provider, the certified Node one) on
// loopback, with test accounts in groups. Its development sign-in page takes any login name and
// password; the accounts here decide which names exist and what groups they are in. Optionally a
// front (a small proxy) that answers discovery with another issuer, for the wrong-issuer tests.
// The console's scopes are granted without a consent page unless a test asks for the page: a
// hospital's provider grants its own first-party apps this way, and one test (the sign-in end to
// end) still goes through the consent page as well.
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import { createServer, request as httpRequest } from 'node:http';
import Provider from 'oidc-provider';

export interface TestAccount {
  readonly name: string;
  readonly groups: readonly string[];
}

export interface TestProvider {
  readonly issuer: string;
  close(): Promise<void>;
}

export const CLIENT_ID = 'dta-console';
export const CLIENT_SECRET = 'console-client-secret-for-tests';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export interface TestProviderOptions {
  /** 'asked': the provider shows its consent page on a person's first sign-in; 'granted' (the default): it does not. */
  readonly consent?: 'asked' | 'granted';
}

/** The scopes the console asks for (service/console: openid with `profile` and `groups`). */
const CONSOLE_SCOPES = 'openid profile groups';

/** Starts the provider; `consoleUrls` are the consoles (their public base URLs) registered as its client. */
export async function startTestProvider(accounts: ReadonlyMap<string, TestAccount>, consoleUrls: readonly string[], options: TestProviderOptions = {}): Promise<TestProvider> {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: consoleUrls.map((u) => `${u}/console/callback`),
        post_logout_redirect_uris: consoleUrls.map((u) => `${u}/console/signed-out`),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-provider', alg: 'ES256', use: 'sig' }] },
    claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
    // Groups and name in the ID token, as Entra ID and Keycloak send them when configured to.
    conformIdTokenClaims: false,
    cookies: { keys: ['oidc-test-provider-cookie-key'] },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    // oidc-provider's own default (a grant the person consented to before), and otherwise, unless
    // the consent page is asked for, a grant of the console's scopes made here.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId !== undefined) return ctx.oidc.provider.Grant.find(grantId);
      if (options.consent === 'asked') return undefined;
      const grant = new ctx.oidc.provider.Grant({ accountId: ctx.oidc.session.accountId, clientId: ctx.oidc.client.clientId });
      grant.addOIDCScope(CONSOLE_SCOPES);
      await grant.save();
      return grant;
    },
    findAccount: (_ctx, id) => {
      const account = accounts.get(id);
      if (account === undefined) return undefined;
      return { accountId: id, claims: () => ({ sub: id, name: account.name, groups: [...account.groups] }) };
    },
  });
  server.on('request', provider.callback());
  return { issuer, close: () => closeServer(server) };
}

/**
 * A front for `target` at an issuer of its own: every request passes through, but discovery
 * says `issuer: <front's URL>` (rewriteIssuer), so the provider's real tokens carry an issuer
 * other than the one discovery named; or passes discovery unchanged, so it names another issuer
 * than the one it was fetched from.
 */
export async function startIssuerFront(target: string, mode: 'rewrite-issuer' | 'pass'): Promise<TestProvider> {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const to = new URL(target);
  server.on('request', (req, res) => {
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (answer) => {
      if (mode === 'rewrite-issuer' && (req.url ?? '').startsWith('/.well-known/openid-configuration')) {
        let text = '';
        answer.setEncoding('utf8');
        answer.on('data', (d: string) => (text += d));
        answer.on('end', () => {
          const metadata = JSON.parse(text) as Record<string, unknown>;
          const body = JSON.stringify({ ...metadata, issuer });
          res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
        });
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return { issuer, close: () => closeServer(server) };
}

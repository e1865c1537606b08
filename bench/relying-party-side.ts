// One side of bench/relying-party.bench.ts's request figure, in a process of its own: either two
// raw node:crypto verifications per request, or the bundled relying party deciding it. The bench
// forks one process per side and has them take turns on chunks of the same requests; each side
// reports its whole process's CPU time over the round, so the garbage the library makes is
// collected, and counted, in the library's process, never in the baseline's (in one shared heap a
// collection is charged to whichever side happens to allocate when the young generation fills).
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { STATUS_LIST_TYP } from '../common/attestation.js';
import { signJws } from '../service/crypto/es256.js';
import { encodeStatusList } from '../service/status-list.js';
import type { createRelyingParty } from '../service/relying-party/index.js';
import { cpuMs, rawVerify } from './raw-es256.js';

export interface BenchRequest {
  readonly token: string;
  readonly dpop: string;
  /** Which device key signed the proof (an index into `devices`). */
  readonly device: number;
}

/** What the bench sends a side (Node's advanced serialization carries it as is). */
export type SideMessage =
  | {
      readonly kind: 'setup';
      readonly side: 'raw' | 'library';
      readonly bundle: string;
      readonly issuer: string;
      readonly audience: string;
      readonly url: string;
      /** The service's signing key (PKCS #8 PEM): the library side signs the status list it is served. */
      readonly servicePrivateKey: string;
      readonly jwks: string;
      readonly devices: readonly JsonWebKey[];
      /** A token without a proof, decided once before each round so keys and list are fetched outside it. */
      readonly warmToken: string;
    }
  | { readonly kind: 'round'; readonly requests: readonly BenchRequest[] }
  | { readonly kind: 'chunk'; readonly from: number; readonly to: number }
  | { readonly kind: 'end-round' };

/** What a side answers: ready (setup or round started), a chunk done, or the round's CPU time. */
export type SideAnswer = { readonly kind: 'ready' } | { readonly kind: 'done' } | { readonly kind: 'round-cpu'; readonly ms: number } | { readonly kind: 'failed'; readonly reason: string };

interface VerifierModule {
  readonly createRelyingParty: typeof createRelyingParty;
}
type Verifier = ReturnType<VerifierModule['createRelyingParty']>;
type Setup = Extract<SideMessage, { kind: 'setup' }>;

function send(answer: SideAnswer): void {
  process.send?.(answer);
}

/** The library side's in-process issuer: its JWKS and a status list signed again every 10 s, as the service does. */
function issuerFetch(setup: Setup): typeof fetch {
  const key = createPrivateKey(setup.servicePrivateKey);
  const lst = encodeStatusList([]);
  const listUri = `${setup.issuer}/v1/status-list`;
  let signed: { iat: number; jwt: string } | undefined;
  return (input) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === `${setup.issuer}/.well-known/jwks.json`) return Promise.resolve(new Response(setup.jwks, { headers: { 'content-type': 'application/json' } }));
    if (url === listUri) {
      const iat = Math.floor(Date.now() / 1000);
      if (signed === undefined || iat - signed.iat >= 10) signed = { iat, jwt: signJws({ typ: STATUS_LIST_TYP, kid: 'k1' }, { sub: listUri, iat, exp: iat + 3600, status_list: { bits: 2, lst } }, key) };
      return Promise.resolve(new Response(signed.jwt, { headers: { 'content-type': 'application/statuslist+jwt' } }));
    }
    return Promise.resolve(new Response('not found', { status: 404 }));
  };
}

let setup: Setup | undefined;
let lib: VerifierModule | undefined;
let serviceKey: KeyObject | undefined;
let deviceKeys: KeyObject[] = [];
let fetchStub: typeof fetch | undefined;
let requests: readonly BenchRequest[] = [];
let verifier: Verifier | undefined;
let roundStart = 0;

async function onMessage(message: SideMessage): Promise<void> {
  if (message.kind === 'setup') {
    setup = message;
    serviceKey = createPublicKey(createPrivateKey(message.servicePrivateKey));
    deviceKeys = message.devices.map((jwk) => createPublicKey({ key: jwk, format: 'jwk' }));
    if (message.side === 'library') {
      lib = (await import(pathToFileURL(message.bundle).href)) as VerifierModule;
      fetchStub = issuerFetch(message);
    }
    send({ kind: 'ready' });
    return;
  }
  if (setup === undefined || serviceKey === undefined) throw new Error('a side was sent work before its setup');
  const { issuer, audience, url } = setup;
  if (message.kind === 'round') {
    requests = message.requests;
    if (lib !== undefined && fetchStub !== undefined) {
      verifier = lib.createRelyingParty({ issuer, audience, fetch: fetchStub });
      // Keys and the status list are fetched once, before the clock starts.
      const warm = await verifier.verifyRequest({ method: 'GET', url, authorization: `DPoP ${setup.warmToken}`, dpop: undefined, requiredTier: 'full' });
      if (warm.allow || warm.code !== 'PROOF_MISSING') throw new Error(`warm-up: ${JSON.stringify(warm)}`);
    }
    roundStart = cpuMs();
    send({ kind: 'ready' });
    return;
  }
  if (message.kind === 'chunk') {
    const chunk = requests.slice(message.from, message.to);
    if (verifier === undefined) {
      for (const { token, dpop, device } of chunk) {
        const deviceKey = deviceKeys[device];
        if (deviceKey === undefined || !rawVerify(token, serviceKey) || !rawVerify(dpop, deviceKey)) throw new Error('raw verification failed');
      }
    } else {
      for (const { token, dpop } of chunk) {
        const decision = await verifier.verifyRequest({ method: 'GET', url, authorization: `DPoP ${token}`, dpop, requiredTier: 'full' });
        if (!decision.allow) throw new Error(`verifier denied: ${decision.code} ${decision.reason}`);
      }
    }
    send({ kind: 'done' });
    return;
  }
  // The whole round, idle turns included: whatever this process's collector or compiler threads
  // did while the other side ran belongs to this side.
  const ms = cpuMs() - roundStart;
  verifier?.close();
  verifier = undefined;
  requests = [];
  send({ kind: 'round-cpu', ms });
}

process.on('message', (message: SideMessage) => {
  onMessage(message).catch((e: unknown) => {
    send({ kind: 'failed', reason: e instanceof Error ? e.message : String(e) });
  });
});
process.on('disconnect', () => process.exit(0));

// The agent and the relying party bind a proof to one URL form (common/htu.ts): over a table
// of tricky URLs, the proof the agent signs for a URL is accepted for a request to that URL
// (written as the agent or the access service may write it), and refused for another.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { test } from 'node:test';
import { normalizeHtu } from '../../common/htu.js';
import { signDpopProof } from '../../main/attest/device-jws.js';
import type { DeviceSigner, PublicEcJwk } from '../../main/identity/signer.js';
import { jwkThumbprint } from '../../main/identity/signer.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';
import { createReplayCache } from '../../service/relying-party/replay-cache.js';
import { verifyDpopProof } from '../../service/relying-party/verify-dpop.js';

/** [the URL the agent signs for, the URL of the request the relying party checks, same proof target?] */
const TABLE: readonly (readonly [string, string, boolean])[] = [
  ['https://ehr.example.org/patients/42', 'https://ehr.example.org/patients/42', true],
  ['https://EHR.Example.ORG/patients/42', 'https://ehr.example.org/patients/42', true],
  ['https://ehr.example.org:443/patients/42', 'https://ehr.example.org/patients/42', true],
  ['http://127.0.0.1:80/x', 'http://127.0.0.1/x', true],
  ['https://ehr.example.org/patients/42?tab=labs#top', 'https://ehr.example.org/patients/42', true],
  ['https://ehr.example.org/patients/42?', 'https://ehr.example.org/patients/42?page=2', true],
  ['https://ehr.example.org', 'https://ehr.example.org/', true],
  ['https://ehr.example.org/a b', 'https://ehr.example.org/a%20b', true],
  ['https://ehr.example.org/akte/müller', 'https://ehr.example.org/akte/m%C3%BCller', true],
  ['https://krankenhaus-münchen.example/akte', 'https://xn--krankenhaus-mnchen-y6b.example/akte', true],
  ['https://[::1]:8443/x', 'https://[0:0:0:0:0:0:0:1]:8443/x', true],
  ['https://ehr.example.org/patients/42', 'https://ehr.example.org/patients/42/', false],
  ['https://ehr.example.org/Patients/42', 'https://ehr.example.org/patients/42', false],
  ['https://ehr.example.org/%7Euser', 'https://ehr.example.org/~user', false],
  ['https://ehr.example.org/a%2fb', 'https://ehr.example.org/a%2Fb', false],
  ['https://ehr.example.org:8443/x', 'https://ehr.example.org/x', false],
  ['http://ehr.example.org/x', 'https://ehr.example.org/x', false],
  ['https://ehr.example.org./x', 'https://ehr.example.org/x', false],
];

async function softwareSigner(): Promise<DeviceSigner> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = await webcrypto.subtle.exportKey('jwk', keys.publicKey);
  const publicJwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
  return {
    algorithm: 'ES256',
    storage: 'software-keystore',
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    sign: async (data) => new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, data)),
  };
}

test('the agent signs htu in the one normal form (common/htu.ts)', async () => {
  const signer = await softwareSigner();
  for (const [signedFor] of TABLE) {
    const proof = await signDpopProof(signer, { htm: 'GET', htu: signedFor, token: 't', now: new Date() });
    const claims = JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString()) as { htu: string };
    assert.equal(claims.htu, normalizeHtu(signedFor), signedFor);
  }
});

test('the relying party accepts the agent\'s proof for the same target and refuses it for another', async () => {
  const signer = await softwareSigner();
  const token = 'device-token';
  const outcomes: string[] = [];
  for (const [signedFor, requested, same] of TABLE) {
    const proof = await signDpopProof(signer, { htm: 'GET', htu: signedFor, token, now: new Date() });
    let outcome = 'accepted';
    try {
      await verifyDpopProof(proof, { token, method: 'GET', url: requested, jkt: signer.thumbprint }, createReplayCache());
    } catch (e) {
      if (!(e instanceof VerifierDenial)) throw e;
      outcome = e.code;
    }
    outcomes.push(`${signedFor} -> ${requested}: ${outcome}`);
    assert.equal(outcome, same ? 'accepted' : 'PROOF_BINDING', outcomes.at(-1));
  }
});

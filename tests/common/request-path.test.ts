// One reading per request path, shared by the verifier and the agent's proof scope (security
// review of issue 14, findings R7 and R8): refused spellings that servers read differently,
// accepted spellings that browsers and .NET clients really send.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasAmbiguousPath, parseHttpUrl } from '../../common/access-service-prefix.js';
import { pathAmbiguity } from '../../common/request-path.js';

const REFUSED = [
  '/schedule/..;/patients/42', // servlet containers: "..;" is ".."
  '/patients;jsessionid=1/42', // a path parameter, dropped before routing
  '/schedule/%3B/x', // an encoded ";"
  '/schedule/%252e%252e/patients/42', // double encoding
  '/schedule/%C0%AE%C0%AE/patients/42', // overlong UTF-8 dots
  '/schedule/%EF%BC%8E%EF%BC%8E/patients/42', // fullwidth dots, "．．" folds to ".."
  '/schedule/%EF%BC%8Fpatients', // fullwidth solidus
  '/a/%FF', // not UTF-8 at all
  '/x/../patients/42',
  '/%2e/patients/42',
  '/%34%32',
  '/a//b',
  '/a\\b',
];
const ACCEPTED = [
  '/patients/42',
  '/search/%c3%bc', // lower-case hex, as .NET's HttpUtility.UrlEncode writes it
  '/search/%C3%BC',
  '/a|b/^c/[d]', // left raw by browsers in a path
  '/~user/%7Ename',
  '/schedule/',
];

test('paths servers could read two ways are refused; paths real clients send are accepted', () => {
  for (const path of REFUSED) assert.equal(pathAmbiguity(path)?.code, 'PATH_AMBIGUOUS', path);
  for (const path of ACCEPTED) assert.equal(pathAmbiguity(path), null, path);
});

test('the agent refuses to sign a proof for any path the verifier would refuse, and signs the rest', () => {
  for (const path of REFUSED) {
    assert.equal(hasAmbiguousPath(path), true, path);
    assert.equal(parseHttpUrl(`https://ehr.example${path}`).ok, false, path);
  }
  for (const path of ACCEPTED) assert.equal(parseHttpUrl(`https://ehr.example${path}`).ok, true, path);
});

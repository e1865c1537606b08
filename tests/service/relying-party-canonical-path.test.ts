// The canonical request path on its own: every spelling parsers could read differently is
// refused with its code; an accepted path is returned as sent, and a WHATWG URL parser (what a
// browser and the proof's htu check use) reads it as that same path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalRequestPath, canonicalRequestUrl } from '../../service/relying-party/canonical-path.js';
import { VerifierDenial } from '../../service/relying-party/errors.js';

const codeOf = (f: () => string): string => {
  try {
    return `ok ${f()}`;
  } catch (e) {
    return e instanceof VerifierDenial ? e.code : `untyped ${String(e)}`;
  }
};

test('ambiguous paths are refused with PATH_AMBIGUOUS, targets that are not paths with REQUEST_TARGET_INVALID', () => {
  const cases: [target: string, code: string][] = [
    ['/x/../patients/42', 'PATH_AMBIGUOUS'],
    ['/./patients/42', 'PATH_AMBIGUOUS'],
    ['/patients/42/..', 'PATH_AMBIGUOUS'],
    ['/patients/42/.', 'PATH_AMBIGUOUS'],
    ['/%2e/patients/42', 'PATH_AMBIGUOUS'],
    ['/%2E%2E/patients/42', 'PATH_AMBIGUOUS'],
    ['/.%2e/patients/42', 'PATH_AMBIGUOUS'],
    ['/patients%2f42', 'PATH_AMBIGUOUS'],
    ['/patients%2F42', 'PATH_AMBIGUOUS'],
    ['/patients%5C42', 'PATH_AMBIGUOUS'],
    ['/patients\\42', 'PATH_AMBIGUOUS'],
    ['/patients/42%00', 'PATH_AMBIGUOUS'],
    ['/patients/42\0', 'PATH_AMBIGUOUS'],
    ['/patients//42', 'PATH_AMBIGUOUS'],
    ['/patients/%34%32', 'PATH_AMBIGUOUS'], // "42" spelled encoded
    ['/p%61tients/42', 'PATH_AMBIGUOUS'],
    ['/patients/42;x', 'PATH_AMBIGUOUS'], // a path parameter: servlet containers drop it before routing
    ['/schedule/..;/patients/42', 'PATH_AMBIGUOUS'],
    ['/patients/%2542', 'PATH_AMBIGUOUS'], // double encoding
    ['/patients/%', 'PATH_AMBIGUOUS'],
    ['/patients/%4', 'PATH_AMBIGUOUS'],
    ['/patients/%zz', 'PATH_AMBIGUOUS'],
    ['/patients/4 2', 'PATH_AMBIGUOUS'],
    ['/patients/\u00e9', 'PATH_AMBIGUOUS'],
    ['/patients/42\t', 'PATH_AMBIGUOUS'],
    ['/patients/{42}', 'PATH_AMBIGUOUS'],
    ['//other.example/patients/42', 'REQUEST_TARGET_INVALID'],
    ['http://other.example/patients/42', 'REQUEST_TARGET_INVALID'],
    ['*', 'REQUEST_TARGET_INVALID'],
    ['', 'REQUEST_TARGET_INVALID'],
    ['/patients/42#frag', 'REQUEST_TARGET_INVALID'],
  ];
  const wrong = cases.map(([target, code]) => [target, codeOf(() => canonicalRequestPath(target)), code]).filter(([, got, code]) => got !== code);
  assert.deepEqual(wrong, []);
});

test('plain paths are returned as sent, without their query; a trailing slash is kept', () => {
  const cases: [target: string, path: string][] = [
    ['/', '/'],
    ['/patients/42', '/patients/42'],
    ['/patients/42?x=../y&z=%2e', '/patients/42'],
    ['/schedule/', '/schedule/'],
    ['/files/a%20b%2B.pdf', '/files/a%20b%2B.pdf'],
    ['/w/Caf%C3%A9', '/w/Caf%C3%A9'],
    ['/a/.well-known/x..y/...', '/a/.well-known/x..y/...'],
    ["/m/@:!$&'()*+,=~_-", "/m/@:!$&'()*+,=~_-"],
    ['/patients/a%3fb', '/patients/a%3fb'], // lower-case hex, as .NET clients write it: one reading
    ['/a|b/^c/[d]', '/a|b/^c/[d]'], // left raw by browsers
  ];
  for (const [target, path] of cases) {
    assert.equal(canonicalRequestPath(target), path, target);
  }
});

test('property: a path is either refused with a code, or a WHATWG URL parser reads it unchanged (so the tier, the htu and the route agree)', () => {
  const piece = fc.constantFrom('/', '.', '..', '%2e', '%2E', '%2f', '%5c', '%00', '%41', '%3F', '%3f', '%', '\\', 'a', 'patients', '42', ';', '@', ':', '~', '?', '#', ' ', '\u00e9', '%C3%A9', '//');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
      const target = `/${pieces.join('')}`;
      let path: string;
      try {
        path = canonicalRequestPath(target);
      } catch (e) {
        return e instanceof VerifierDenial && (e.code === 'PATH_AMBIGUOUS' || e.code === 'REQUEST_TARGET_INVALID');
      }
      return new URL(`https://ehr.example.org${path}`).pathname === path && !path.includes('?');
    }),
    { numRuns: 5000 },
  );
});

test('a request URL: origin normalised, path judged before any parser rewrites it', () => {
  assert.equal(canonicalRequestUrl('HTTPS://EHR.Example.org:443/patients/42?x=1'), 'https://ehr.example.org/patients/42');
  assert.equal(canonicalRequestUrl('http://127.0.0.1:8788'), 'http://127.0.0.1:8788/');
  assert.equal(codeOf(() => canonicalRequestUrl('https://ehr.example.org/x/../patients/42')), 'PATH_AMBIGUOUS');
  assert.equal(codeOf(() => canonicalRequestUrl('https://ehr.example.org/%2e/patients/42')), 'PATH_AMBIGUOUS');
  assert.equal(codeOf(() => canonicalRequestUrl('https://ehr.example.org\\patients/42')), 'REQUEST_TARGET_INVALID');
  assert.equal(codeOf(() => canonicalRequestUrl('ftp://ehr.example.org/patients/42')), 'REQUEST_TARGET_INVALID');
  assert.equal(codeOf(() => canonicalRequestUrl('not a url')), 'REQUEST_TARGET_INVALID');
});

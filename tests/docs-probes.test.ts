// docs/probes.md and the code agree: every probe the checks declare is documented, and
// every documented probe exists.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PLATFORMS } from '../common/posture.js';
import { checksFor } from '../main/posture/platform.js';

const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'probes.md'), 'utf8');

test('every probe of every OS is listed in docs/probes.md, with its command', () => {
  const declared = PLATFORMS.flatMap((p) => checksFor(p).flatMap((c) => c.probes));
  for (const probe of declared) {
    assert.ok(doc.includes(`| \`${probe.id}\` |`), `${probe.id} is documented`);
    if (probe.kind === 'command') assert.ok(doc.includes(probe.argv[0] ?? '???'), `${probe.id}'s command ${probe.argv[0]} is documented`);
  }
  const documented = [...doc.matchAll(/^\| `([a-z]+\.[a-z0-9.-]+)` \|/gm)].map((m) => m[1]);
  const ids = new Set(declared.map((p) => p.id));
  for (const id of documented) assert.ok(ids.has(id ?? ''), `${id} in the docs is a real probe`);
});

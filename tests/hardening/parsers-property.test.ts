// Property-based tests (fast-check) over every parser: probe outputs (through the engine,
// as a replayed bundle would feed them), support bundles, plists, registry exports,
// managed configuration, compact JWS and IPC messages. Never a crash, never a hang,
// always a result or a typed error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isAgentError } from '../../common/errors.js';
import { IPC_CHANNELS } from '../../common/ipc.js';
import { findDuplicateKey, splitCompact } from '../../common/jws-compact.js';
import { MANAGED_SETTINGS, checkSetting, weakerThanDefault } from '../../common/managed-config.js';
import type { Platform, ProbeRecord } from '../../common/posture.js';
import { PLATFORMS, PostureReportSchema, defaultPosturePolicy } from '../../common/posture.js';
import { isValid } from '../../common/validate.js';
import { parsePlist } from '../../main/config/plist.js';
import { parseRegExport } from '../../main/config/registry-export.js';
import { resolveConfig } from '../../main/config/resolve-config.js';
import { runPosture } from '../../main/posture/engine.js';
import { checksFor } from '../../main/posture/platform.js';
import { createReplayProbeSource } from '../../main/posture/replay-probe-source.js';
import { parseSupportBundle } from '../../main/posture/support-bundle.js';
import { guardIpc } from '../../main/ui/ipc-guard.js';

const RUNS = Number(process.env.FC_RUNS ?? 150);
const text = fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('', '\n', '{}', '[]', 'null', '{"nftables":[{"chain":{"hook":"input"}}]}', '{"blockdevices":[{"name":1}]}', 'FileVault is', 'BitLockerProtection : 99', '(State = 7)'));

test('every check of every OS, fed arbitrary probe output, gives a schema-valid report and never throws', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<Platform>(...PLATFORMS), fc.array(fc.tuple(text, text, fc.option(fc.integer({ min: -1, max: 255 }), { nil: null }), fc.boolean()), { minLength: 1, maxLength: 12 }), async (platform, outputs) => {
      const specs = checksFor(platform).flatMap((c) => c.probes);
      const records: ProbeRecord[] = specs.map((spec, i) => {
        const [stdout, stderr, exitCode, timedOut] = outputs[i % outputs.length] ?? ['', '', 0, false];
        return { id: spec.id, kind: spec.kind, command: spec.id, stdout, stderr, exitCode, durationMs: 1, timedOut, truncated: false };
      });
      const started = performance.now();
      const { report } = await runPosture({ platform, checks: checksFor(platform), source: createReplayProbeSource(records), policy: defaultPosturePolicy(), now: () => new Date('2026-11-29T12:00:00Z') });
      assert.ok(performance.now() - started < 2000, 'no parser hangs');
      assert.ok(isValid(PostureReportSchema, report), JSON.stringify(report).slice(0, 300));
    }),
    { numRuns: RUNS },
  );
});

test('support bundles: any text is a bundle or BUNDLE_INVALID', () => {
  fc.assert(
    fc.property(fc.oneof(text, fc.json({ maxDepth: 4 }), fc.jsonValue().map((v) => JSON.stringify({ schema: 'dta-support-bundle/1', report: v }))), (input) => {
      try {
        parseSupportBundle(input);
      } catch (e) {
        assert.ok(isAgentError(e, 'BUNDLE_INVALID'), String(e));
      }
    }),
    { numRuns: RUNS * 2 },
  );
});

/** A parser refuses bad input with its own Error; a TypeError or RangeError is a bug that escaped it. */
function assertParseError(e: unknown): void {
  assert.ok(e instanceof Error, 'an Error');
  assert.ok(!(e instanceof TypeError) && !(e instanceof RangeError), `a parse error, not a bug: ${String(e)}`);
}

test('plists: arbitrary bytes, and mutated real binary plists, parse or throw an Error', () => {
  const header = Buffer.from('bplist00');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, binary) => {
      const data = binary ? Buffer.concat([header, Buffer.from(bytes)]) : Buffer.from(bytes);
      try {
        parsePlist(data);
      } catch (e) {
        assertParseError(e);
      }
    }),
    { numRuns: RUNS * 2 },
  );
});

test('registry exports: arbitrary text parses or throws an Error', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (body) => {
      try {
        parseRegExport(`Windows Registry Editor Version 5.00\n${body}`).values('HKEY_LOCAL_MACHINE\\x');
      } catch (e) {
        assertParseError(e);
      }
    }),
    { numRuns: RUNS },
  );
});

test('managed configuration: arbitrary layers resolve to valid values; a user layer never weakens a setting', () => {
  const values = fc.dictionary(fc.oneof(fc.constantFrom(...MANAGED_SETTINGS.map((s) => s.key)), fc.string({ maxLength: 12 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 });
  fc.assert(
    fc.property(values, values, (managed, user) => {
      const config = resolveConfig([
        { source: 'policy', managed: true, values: managed },
        { source: 'user', managed: false, values: user },
      ]);
      for (const spec of MANAGED_SETTINGS) {
        const setting = config.settings[spec.key];
        assert.ok(setting);
        if (setting.source !== 'default') assert.ok(checkSetting(spec, setting.value).ok, `${spec.key} is valid`);
        if (setting.source === 'user') assert.equal(weakerThanDefault(spec, setting.value), false, `${spec.key} from the user is not weaker`);
      }
    }),
    { numRuns: RUNS * 2 },
  );
});

test('compact JWS: any string splits or throws an Error; duplicate member names are always refused', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([h, p]) => `${Buffer.from(JSON.stringify(h)).toString('base64url')}.${Buffer.from(JSON.stringify(p)).toString('base64url')}.AA`)), (token) => {
      try {
        splitCompact(token);
      } catch (e) {
        assertParseError(e);
      }
    }),
    { numRuns: RUNS * 2 },
  );
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 10 }), fc.jsonValue(), fc.jsonValue(), (key, a, b) => {
      const json = `{${JSON.stringify(key)}:${JSON.stringify(a) ?? 'null'},${JSON.stringify(key)}:${JSON.stringify(b) ?? 'null'}}`;
      assert.equal(findDuplicateKey(json), key);
    }),
    { numRuns: RUNS },
  );
});

test('IPC: only the known channels with valid payloads from the window pass the guard', () => {
  const windowUrl = 'file:///app/out/renderer/index.html';
  const known = new Set<string>(Object.values(IPC_CHANNELS));
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 30 })), fc.jsonValue({ maxDepth: 3 }), fc.oneof(fc.constant(windowUrl), fc.webUrl()), fc.boolean(), (channel, payload, url, isMainFrame) => {
      const result = guardIpc(channel, payload, { url, isMainFrame }, windowUrl);
      if (result.ok) {
        assert.ok(known.has(channel) && isMainFrame && url === windowUrl);
      } else {
        assert.ok(['SENDER_REFUSED', 'CHANNEL_UNKNOWN', 'PAYLOAD_INVALID'].includes(result.code));
      }
    }),
    { numRuns: RUNS * 2 },
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildBatchScript, encodeCommand, splitBatchOutput } from '../../../main/posture/powershell-batch.js';

const specs = [
  { kind: 'powershell', id: 'win.os', script: 'Get-ItemProperty x | Format-List A' },
  { kind: 'powershell', id: 'win.firewall', script: 'Get-NetFirewallProfile | Format-List Name' },
  { kind: 'powershell', id: 'win.bitlocker', script: 'Get-BitLockerVolume' },
] as const;

test('the batch script brackets each probe with markers and catches its errors', () => {
  const script = buildBatchScript(specs);
  for (const s of specs) {
    assert.ok(script.includes(`Write-Output '##DTA-BEGIN ${s.id}##'`));
    assert.ok(script.includes(`& { ${s.script} }`));
  }
  assert.equal((script.match(/try \{/g) ?? []).length, 3);
});

test('the encoded command is base64 of UTF-16LE, as powershell.exe -EncodedCommand expects', () => {
  const encoded = encodeCommand("Write-Output 'ä'");
  assert.equal(Buffer.from(encoded, 'base64').toString('utf16le'), "Write-Output 'ä'");
});

test('batch output is split per probe with its duration, error and CRLF line ends', () => {
  const stdout = [
    '##DTA-BEGIN win.os##',
    '',
    'A : 1',
    '',
    '##DTA-END win.os ms=12 ok=1##',
    '##DTA-BEGIN win.firewall##',
    '##DTA-ERROR Access is denied.',
    '##DTA-END win.firewall ms=3 ok=0##',
    '##DTA-BEGIN win.bitlocker##',
    'VolumeStatus : Fully',
  ].join('\r\n');
  const records = splitBatchOutput(specs, { stdout, stderr: '', exitCode: null, timedOut: true, truncated: false, durationMs: 5000 });
  assert.equal(records[0]?.stdout, '\nA : 1\n\n');
  assert.equal(records[0]?.exitCode, 0);
  assert.equal(records[0]?.durationMs, 12);
  assert.equal(records[1]?.exitCode, 1);
  assert.equal(records[1]?.stderr, 'Access is denied.');
  assert.equal(records[2]?.timedOut, true, 'the probe cut off by the deadline is marked timed out');
  assert.equal(records[2]?.error?.code, 'TIMED_OUT');
});

test('a batch that could not start fails every probe with the same error', () => {
  const records = splitBatchOutput(specs, { stdout: '', stderr: '', exitCode: null, timedOut: false, truncated: false, durationMs: 1, error: { code: 'TOOL_MISSING', message: 'no powershell' } });
  assert.deepEqual(records.map((r) => r.error?.code), ['TOOL_MISSING', 'TOOL_MISSING', 'TOOL_MISSING']);
});

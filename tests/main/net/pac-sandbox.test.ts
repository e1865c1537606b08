// PAC scripts run in the real sandbox (pac-resolver on QuickJS in WebAssembly): ordinary
// scripts answer with their helpers; hostile ones (an endless loop, a huge allocation, an
// escape to the agent's process, require, a promise that never settles) end with a typed error
// while this process goes on unharmed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPacError, type PacProblemCode } from '../../../main/net/pac-problem.js';
import { DEFAULT_PAC_LIMITS, evaluatePac, withMemoryMaximum } from '../../../main/net/pac-sandbox.js';

const SERVICE = new URL('https://dts.hospital.example/v1/nonce');
// Hostile scripts get a short limit; ordinary ones a long one, as this machine may be busy.
const LIMITS = { ...DEFAULT_PAC_LIMITS, timeoutMs: 1500 };
const ROOMY = { ...DEFAULT_PAC_LIMITS, timeoutMs: 30_000 };

async function failure(script: string): Promise<{ code: PacProblemCode; message: string }> {
  try {
    const answer = await evaluatePac(script, SERVICE, LIMITS);
    throw new Error(`the script answered ${JSON.stringify(answer)}`);
  } catch (e) {
    if (!isPacError(e)) throw e;
    return { code: e.code, message: e.message };
  }
}

test('an ordinary PAC script answers with the PAC helpers it calls, given the URL and host', async () => {
  const script = `function FindProxyForURL(url, host) {
    if (isPlainHostName(host) || shExpMatch(host, "*.local")) return "DIRECT";
    if (dnsDomainIs(host, ".hospital.example") && isInNet(dnsResolve("127.0.0.1"), "127.0.0.0", "255.0.0.0")) return "PROXY proxy.hospital.example:3128; DIRECT";
    return "DIRECT";
  }`;
  assert.equal(await evaluatePac(script, SERVICE, ROOMY), 'PROXY proxy.hospital.example:3128; DIRECT');
  assert.equal(await evaluatePac('function FindProxyForURL(url, host) { return url + " " + host; }', SERVICE, ROOMY), 'https://dts.hospital.example/v1/nonce dts.hospital.example');
  assert.match(await evaluatePac('function FindProxyForURL() { return myIpAddress(); }', SERVICE, ROOMY), /^\d+\.\d+\.\d+\.\d+$/);
});

test('an endless loop is stopped at the time limit: PAC_TIMEOUT', async () => {
  const started = Date.now();
  const f = await failure('function FindProxyForURL(url, host) { while (true) {} }');
  assert.equal(f.code, 'PAC_TIMEOUT', f.message);
  assert.ok(Date.now() - started < 60_000, 'the loop was stopped, not run to the end');
});

test('a promise that never settles is stopped by the clock: PAC_TIMEOUT', async () => {
  const f = await failure('function FindProxyForURL(url, host) { return new Promise(function () {}); }');
  assert.equal(f.code, 'PAC_TIMEOUT', f.message);
});

test('huge allocations are refused inside the sandbox: PAC_MEMORY, and the agent\'s heap did not take them', async () => {
  const heapBefore = process.memoryUsage().rss;
  for (const body of [
    'var a = []; while (true) a.push("x".repeat(1e6) + a.length);',
    // Small ArrayBuffers pass QuickJS's own limit; the instance's memory maximum stops them.
    'var a = []; while (true) a.push(new ArrayBuffer(65536));',
    'return "x".repeat(1e9);',
  ]) {
    const f = await failure(`function FindProxyForURL(url, host) { ${body} }`);
    assert.equal(f.code, 'PAC_MEMORY', `${body}: ${f.message}`);
  }
  const grown = process.memoryUsage().rss - heapBefore;
  assert.ok(grown < 512 * 1024 * 1024, `the process grew by ${Math.round(grown / 1024 / 1024)} MiB`);
});

test('the script cannot reach the agent\'s process: no process through Function, no require, no console', async () => {
  // The classic vm escape, in steps (the PAC compiler rewrites calls and refuses f()()).
  const escape = await failure('function FindProxyForURL(url, host) { var F = this.constructor.constructor; var get = F("return process"); var p = get(); return p.mainModule.require("fs").readFileSync("/etc/shadow", "utf8"); }');
  assert.equal(escape.code, 'PAC_SCRIPT_ERROR', escape.message);
  assert.match(escape.message, /process is not defined/);
  const chained = await failure('function FindProxyForURL(url, host) { return this.constructor.constructor("return process")().exit(3); }');
  assert.equal(chained.code, 'PAC_SCRIPT_ERROR', chained.message);
  const required = await failure('function FindProxyForURL(url, host) { return require("child_process").execSync("id").toString(); }');
  assert.equal(required.code, 'PAC_SCRIPT_ERROR');
  assert.match(required.message, /require is not defined/);
  // What the global object has: QuickJS's built-ins and the PAC helpers, nothing of Node.
  const seen = await evaluatePac('function FindProxyForURL() { var F = this.constructor.constructor; var g = F("return globalThis"); var inner = g(); return [typeof process, typeof require, typeof console, typeof fetch, typeof globalThis.Buffer, typeof inner.process].join(","); }', SERVICE, ROOMY);
  assert.equal(seen, 'undefined,undefined,undefined,undefined,undefined,undefined');
});

test('a script that does not compile, throws or has no FindProxyForURL is PAC_SCRIPT_ERROR', async () => {
  for (const script of ['function FindProxyForURL(url, host) { return "DIRECT" ', 'function FindProxyForURL() { throw new Error("boom"); }', 'var notIt = 1;', 'function FindProxyForURL() { return 42; }']) {
    const f = await failure(script);
    assert.equal(f.code, 'PAC_SCRIPT_ERROR', `${script}: ${f.message}`);
  }
});

test('the engine\'s memory gets a maximum; a module that is not one is refused', () => {
  const minimal = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 2]);
  assert.deepEqual([...withMemoryMaximum(minimal, 16)], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 1, 2, 16]);
  assert.throws(() => withMemoryMaximum(Uint8Array.from([1, 2, 3, 4]), 16), /not a WebAssembly module/);
  assert.throws(() => withMemoryMaximum(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 1, 2, 8]), 16), /not one memory without a maximum/);
});

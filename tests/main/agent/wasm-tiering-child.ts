// Started by wasm-baseline-compiler.test.ts: parses HTTP responses with undici (llhttp in
// WebAssembly, as the agent does) while V8 prints each WebAssembly function it compiles and
// with which compiler. `baseline` loads the agent's setting first, as sea-main.ts does.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';

if (process.argv[2] === 'baseline') await import('../../../main/agent/wasm-baseline-compiler.js');
// A small tiering budget: V8 would optimise the parser after a few responses instead of thousands.
setFlagsFromString('--wasm-tiering-budget=1000');
const { Agent, fetch } = await import('undici');
// V8 prints each compile (--trace-wasm-compilation-times, given by the test). tsx's module
// lexers are WebAssembly too, used while modules load: what V8 prints after this line of
// modules it did not print before is undici's parser, compiled when the first response comes.
process.stdout.write('undici:\n');

const server = createServer((_req, res) => res.end('x'.repeat(2000)));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const dispatcher = new Agent();
try {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (let i = 0; i < 200; i++) await (await fetch(url, { dispatcher })).text();
  // The optimising compile runs on a background thread: time for it to finish and be printed.
  await new Promise((resolve) => setTimeout(resolve, 3000));
} finally {
  await dispatcher.close();
  server.close();
}

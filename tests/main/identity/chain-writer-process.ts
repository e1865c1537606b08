// A process that stores a device chain and its anchor (writeStoredChain) and stops, before its
// Nth file-system call, until it is killed: the crash test kills it with SIGKILL at every such
// point. It prints "paused <call>" when it stops there and "done" when the write finished first.
// Usage: chain-writer-process.ts <dataDir> <stopAt> <chain.pem> <anchor.pem>
import { readFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const [dataDir, stopAtText, chainPath, anchorPath] = process.argv.slice(2);
if (dataDir === undefined || stopAtText === undefined || chainPath === undefined || anchorPath === undefined) throw new Error('usage: chain-writer-process.ts <dataDir> <stopAt> <chain.pem> <anchor.pem>');
const stopAt = Number(stopAtText);
const chainPem = readFileSync(chainPath, 'utf8');
const anchorPem = readFileSync(anchorPath, 'utf8');

// Every call that changes the folder (or opens a file to write) is a point a crash can hit.
let calls = 0;
const patched = fsp as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
for (const name of ['mkdir', 'open', 'writeFile', 'rename', 'rm', 'unlink', 'copyFile']) {
  const original = patched[name];
  if (original === undefined) continue;
  patched[name] = async (...args: unknown[]): Promise<unknown> => {
    if (calls++ === stopAt) {
      process.stdout.write(`paused ${name}\n`);
      await new Promise<never>(() => setInterval(() => undefined, 60_000));
    }
    return original.apply(fsp, args);
  };
}
// Named imports of node:fs/promises (the module under test) see the wrapped functions only after this.
syncBuiltinESMExports();

const { writeStoredChain } = await import('../../../main/identity/certificate.js');
await writeStoredChain(dataDir, chainPem, anchorPem);
process.stdout.write('done\n');

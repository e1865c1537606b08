// Runs a PAC script's FindProxyForURL in a sandbox: pac-resolver (the PAC helper functions,
// from the proxy-agents project) on QuickJS compiled to WebAssembly (quickjs-wasi). The script
// runs in its own JavaScript engine inside a WebAssembly instance: it has no `require`, no
// `process`, no file system and no network of ours; `this.constructor.constructor` reaches
// only QuickJS's own Function. Every evaluation gets a fresh instance, thrown away after, so a
// script keeps nothing between runs. Limits: a deadline (QuickJS's interrupt handler stops
// a loop; the DNS helpers give up at it too), QuickJS's own memory limit, and a hard cap on
// the instance's memory (the WebAssembly module's memory gets a maximum), since QuickJS does
// not count every allocation (small ArrayBuffers pass its limit).
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { isSea } from 'node:sea';
import type * as PacResolver from 'pac-resolver';
import type * as QuickJsWasi from 'quickjs-wasi';
import { PacError } from './pac-problem.js';

export interface PacLimits {
  /** Wall-clock time for one evaluation, helpers included. */
  readonly timeoutMs: number;
  /** QuickJS's own heap limit. */
  readonly heapBytes: number;
  /** The most memory the WebAssembly instance may grow to (a multiple of 64 KiB). */
  readonly instanceBytes: number;
}

export const DEFAULT_PAC_LIMITS: PacLimits = { timeoutMs: 2000, heapBytes: 16 * 1024 * 1024, instanceBytes: 64 * 1024 * 1024 };

const WASM_PAGE = 64 * 1024;

/**
 * quickjs-wasi's engine file: beside the executable in the agent's single executable (the
 * installers put it there, as keytar.node), else from node_modules.
 */
export function quickJsWasmPath(): string {
  if (isSea()) return join(dirname(process.execPath), 'quickjs.wasm');
  const from = createRequire(process.argv[1] ?? join(process.cwd(), 'index.js'));
  return join(dirname(from.resolve('quickjs-wasi/package.json')), 'quickjs.wasm');
}

function readLeb(bytes: Uint8Array, start: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let i = start;
  for (;;) {
    const b = bytes[i++];
    if (b === undefined || shift > 28) throw new Error('malformed LEB128 number');
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, i];
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  let rest = n;
  do {
    const low = rest & 0x7f;
    rest = Math.floor(rest / 128);
    out.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return out;
}

/**
 * The module with a maximum on its one memory, so a script cannot grow the instance past
 * `maxPages` whatever QuickJS counts: the memory section (id 5) is written again with the
 * limits flag set. Anything but one memory without a maximum is refused, not guessed at.
 */
export function withMemoryMaximum(wasm: Uint8Array, maxPages: number): Uint8Array {
  if (wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) throw new Error('not a WebAssembly module');
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let capped = false;
  let i = 8;
  while (i < wasm.length) {
    const id = wasm[i];
    const [size, body] = readLeb(wasm, i + 1);
    const end = body + size;
    if (id === 5) {
      const [count, at] = readLeb(wasm, body);
      if (count !== 1 || wasm[at] !== 0) throw new Error('the module has not one memory without a maximum');
      const [minPages] = readLeb(wasm, at + 1);
      if (minPages > maxPages) throw new Error(`the module needs ${minPages} pages, more than the ${maxPages} allowed`);
      const content = [...leb(1), 1, ...leb(minPages), ...leb(maxPages)];
      parts.push(Uint8Array.from([5, ...leb(content.length), ...content]));
      capped = true;
    } else parts.push(wasm.subarray(i, end));
    i = end;
  }
  if (!capped) throw new Error('the module has no memory section');
  return Buffer.concat(parts);
}

let engine: Promise<{ module: WebAssembly.Module; create: typeof QuickJsWasi.QuickJS.create; resolver: typeof PacResolver }> | null = null;

// Loaded when a PAC file is first run: most agents never run one. The agent's build bundles
// both (scripts/build-agent.ts hands quickjs-wasi its engine file, kept beside the executable).
let engineCap = 0;

// Compiled once per process (the file is 1.5 MB); instances are made per evaluation.
function loadEngine(instanceBytes: number): NonNullable<typeof engine> {
  if (engine === null || engineCap !== instanceBytes) {
    engineCap = instanceBytes;
    engine = (async () => {
      const [{ QuickJS }, resolver] = await Promise.all([import('quickjs-wasi'), import('pac-resolver')]);
      const module = await WebAssembly.compile(new Uint8Array(withMemoryMaximum(readFileSync(quickJsWasmPath()), Math.floor(instanceBytes / WASM_PAGE))));
      return { module, create: QuickJS.create.bind(QuickJS), resolver };
    })();
    engine.catch(() => (engine = null));
  }
  return engine;
}

/**
 * This machine's address for the script's myIpAddress(): its first non-loopback IPv4 address,
 * read from the interfaces. pac-resolver's own opens a TCP connection to 8.8.8.8 to find out,
 * which a hospital's device agent must not do.
 */
export function localIpv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 300);
  return String(e).slice(0, 300);
}

/**
 * FindProxyForURL(url, host) of `script`, evaluated in a fresh sandbox within `limits`.
 * Throws PacError: PAC_SCRIPT_ERROR, PAC_TIMEOUT, PAC_MEMORY, PAC_ENGINE_UNAVAILABLE.
 */
export async function evaluatePac(script: string, url: URL, limits: PacLimits = DEFAULT_PAC_LIMITS): Promise<string> {
  let loaded;
  try {
    loaded = await loadEngine(limits.instanceBytes);
  } catch (e) {
    throw new PacError('PAC_ENGINE_UNAVAILABLE', `The sandbox for PAC scripts cannot be loaded (${errorText(e)}).`, { cause: e });
  }
  // The clock starts once the instance exists: making one is the agent's cost, not the script's.
  let deadline = Number.POSITIVE_INFINITY;
  const late = (): boolean => Date.now() > deadline;
  let timedOut = false;
  const vm = await loaded.create({
    wasm: loaded.module,
    memoryLimit: limits.heapBytes,
    interruptHandler: () => (late() ? (timedOut = true) : false),
    // QuickJS's own output (stdout is the agent's log) goes nowhere: each byte is "written".
    wasi: (memory) => ({
      fd_write(_fd: number, iovs: number, count: number, written: number): number {
        const view = new DataView(memory.buffer);
        let total = 0;
        for (let k = 0; k < count; k++) total += view.getUint32(iovs + k * 8 + 4, true);
        view.setUint32(written, total, true);
        return 0;
      },
    }),
  });
  deadline = Date.now() + limits.timeoutMs;
  // Host helpers still running; the instance is thrown away only once none is. pac-resolver
  // hands a helper's result to the script in a callback after the helper's promise settles,
  // so the count drops a turn later (setImmediate): a result settling into a disposed
  // instance would throw in the agent.
  let running = 0;
  let finished = false;
  const dispose = (): void => {
    if (finished && running === 0) vm.dispose();
  };
  const bounded = async <T>(work: () => Promise<T>, fallback: T): Promise<T> => {
    running++;
    try {
      const left = deadline - Date.now();
      if (left <= 0) return fallback;
      let timer: NodeJS.Timeout | undefined;
      const stop = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), left)));
      try {
        return await Promise.race([work().catch(() => fallback), stop]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      setImmediate(() => {
        running--;
        dispose();
      });
    }
  };
  const ipv4 = async (host: string): Promise<string | null> => (await lookup(host, { family: 4 })).address;
  const { sandbox } = loaded.resolver;
  const helpers = {
    // Native async functions, so that pac-resolver lets the script wait for them.
    dnsResolve: async (host: string): Promise<string | null> => bounded(() => ipv4(host), null),
    isResolvable: async (host: string): Promise<boolean> => bounded(async () => (await ipv4(host)) !== null, false),
    isInNet: async (host: string, pattern: string, mask: string): Promise<boolean> => bounded(() => sandbox.isInNet(host, pattern, mask), false),
    myIpAddress: async (): Promise<string> => Promise.resolve(localIpv4()),
    // alert() writes to the agent's output in pac-resolver; a script has nothing to tell the log.
    alert: (): void => undefined,
  };
  let giveUp: NodeJS.Timeout | undefined;
  try {
    const find = loaded.resolver.createPacResolver(vm, script, { filename: 'proxy.pac', sandbox: helpers });
    // A script waiting on a promise that never settles is stopped by the clock alone.
    const outcome = await Promise.race([
      find(url.href, url.hostname),
      new Promise<never>((_resolve, reject) => {
        giveUp = setTimeout(() => reject(new PacError('PAC_TIMEOUT', `The PAC script gave no answer within ${limits.timeoutMs} ms.`)), limits.timeoutMs + 250);
      }),
    ]);
    if (typeof outcome !== 'string') throw new PacError('PAC_SCRIPT_ERROR', `FindProxyForURL returned ${outcome === null ? 'null' : typeof outcome}, not a string.`);
    return outcome;
  } catch (e) {
    if (e instanceof PacError) throw e;
    const text = errorText(e);
    if (timedOut || /\binterrupted\b/.test(text)) throw new PacError('PAC_TIMEOUT', `The PAC script ran longer than its ${limits.timeoutMs} ms and was stopped.`, { cause: e });
    // An allocation QuickJS refused, or one the instance's memory maximum refused (a trap).
    if (/out of memory|RangeError: Maximum call stack|memory access out of bounds|unreachable/i.test(text)) {
      throw new PacError('PAC_MEMORY', `The PAC script needed more memory than its sandbox has (${Math.round(limits.instanceBytes / 1024 / 1024)} MiB) and was stopped (${text}).`, { cause: e });
    }
    throw new PacError('PAC_SCRIPT_ERROR', `The PAC script failed: ${text}`, { cause: e });
  } finally {
    clearTimeout(giveUp);
    finished = true;
    dispose();
  }
}

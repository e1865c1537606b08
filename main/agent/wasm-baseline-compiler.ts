// Imported first by sea-main.ts, before undici is loaded. undici parses HTTP with llhttp
// compiled to WebAssembly, and V8 compiles WebAssembly twice: at once with its baseline
// compiler (Liftoff), then again with its optimising compiler (TurboFan) on a background
// thread for functions that ran enough (dynamic tiering). For llhttp's parser that second
// compile took 1.4 s of CPU and 29 MB of compiler memory at its peak, malloc'd on one V8
// worker thread, and glibc kept ~10 MiB of it in that thread's arena after it was freed: a
// tenth of the idle agent's resident memory (docs/system-agent.md). The agent parses a few
// small responses a minute, which the baseline code parses as fast as its share of the CPU
// allows (3,000 requests took no longer), so WebAssembly stays on baseline code: no dynamic
// tier-up, and no eager one either. The PAC sandbox's QuickJS (WebAssembly too) also runs on
// baseline code, within the same time limit.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-wasm-dynamic-tiering');
setFlagsFromString('--no-wasm-tier-up');

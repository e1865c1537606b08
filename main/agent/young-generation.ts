// Imported first by sea-main.ts, before the rest of the agent is loaded. V8 lets the young
// generation (the new space, where short-lived objects are made) double each time it fills
// while busy, up to 16 MiB per semi-space on 64-bit, and the pages it grew stay resident: the
// agent's start (enrolment, the first checks, the inventory) left ~7 MiB of new space that an
// idle agent never uses again. A growth factor of 1 keeps it at its first size (1 MiB per
// semi-space). The executable takes no Node.js options (sea-main.ts), so the flag is set here;
// V8 reads this one each time the new space would grow, which is why it still applies after the
// VM has started (measured in bench/agent-shipped.bench.ts, docs/system-agent.md).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');

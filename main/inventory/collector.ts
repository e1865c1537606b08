// The inventory collector: the process the agent starts (`dta inventory --collector`) to ask
// systeminformation for each part. It runs apart from the agent because systeminformation runs
// commands through a shell itself, some with execSync: a hanging `dmidecode` or `hostname -f`
// (a DNS lookup during a network outage) would otherwise stop the agent's event loop. Each part
// is written as one JSON line the moment it is known, so when the agent stops this process at its
// time limit it keeps the parts that finished and names the others as missing.
import si from 'systeminformation';
import type { InventoryPart } from '../../common/inventory.js';
import { chassisPart, cpuPart, disksPart, memoryPart, networkPart, osPart, systemPart } from './inventory-parts.js';

/** One line of the collector's output. */
export type CollectorLine = { readonly part: InventoryPart; readonly value: unknown } | { readonly part: InventoryPart; readonly missing: string };

/** /proc first, then the firmware (dmidecode), the disks and the network (the slowest: a command per interface). */
export const COLLECTION_ORDER: readonly InventoryPart[] = ['memory', 'cpu', 'os', 'system', 'chassis', 'disks', 'network'];

const READERS = new Map<InventoryPart, () => Promise<unknown>>([
  ['system', async () => systemPart(await si.system())],
  ['chassis', async () => chassisPart(await si.chassis())],
  ['os', async () => osPart(await si.osInfo())],
  ['cpu', async () => cpuPart(await si.cpu())],
  ['memory', async () => memoryPart(await si.mem())],
  ['disks', async () => disksPart(await si.diskLayout())],
  ['network', async () => networkPart(await si.networkInterfaces())],
]);

/** Reads one part within `deadlineMs`: its value, or why it is missing. */
async function readPart(part: InventoryPart, deadlineMs: number): Promise<CollectorLine> {
  const read = READERS.get(part);
  if (read === undefined) return { part, missing: 'This agent cannot read this part.' };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CollectorLine>((resolve) => {
    timer = setTimeout(() => resolve({ part, missing: `Not collected within ${deadlineMs} ms.` }), deadlineMs);
  });
  const value = read().then(
    (v): CollectorLine => ({ part, value: v }),
    (e: unknown): CollectorLine => ({ part, missing: `systeminformation failed: ${(e instanceof Error ? e.message : String(e)).slice(0, 80)}` }),
  );
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads the parts one after another, each under `deadlineMs`, writing each line as soon as it is
 * known. Not at once: systeminformation's synchronous commands for one part would hold the others'
 * answers back until their own limits had passed. The cheap and robust parts come first, so a
 * command that hangs the process costs the fewest parts.
 */
export async function runCollector(deadlineMs: number, write: (line: string) => Promise<void>): Promise<void> {
  for (const part of COLLECTION_ORDER) await write(`${JSON.stringify(await readPart(part, deadlineMs))}\n`);
}

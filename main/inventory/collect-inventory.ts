// Collects the inventory by starting the collector process (collector.ts) through the command
// runner, under the probes' time limit. It never throws and never waits past its limit: a part
// the collector did not report in time (or reported in a shape the contract refuses) is named in
// `missing` with the reason, and the rest is kept.
import type { TSchema } from '@sinclair/typebox';
import type { Inventory, InventoryMissing, InventoryPart } from '../../common/inventory.js';
import {
  INVENTORY_MAX_BYTES,
  INVENTORY_PARTS,
  INVENTORY_SCHEMA,
  InventoryChassisSchema,
  InventoryCpuSchema,
  InventoryDiskSchema,
  InventoryInterfaceSchema,
  InventoryMemorySchema,
  InventoryOsSchema,
  InventorySchema,
  InventorySystemSchema,
  inventoryBytes,
} from '../../common/inventory.js';
import { Type } from '@sinclair/typebox';
import { isValid } from '../../common/validate.js';
import type { CommandRunner } from '../posture/command-runner.js';

/** Node.js (and the single executable) starting up and exiting, on top of the parts' own limit. */
export const COLLECTOR_STARTUP_MS = 3000;
/** The collector prints a few kilobytes; anything more is not ours. */
const MAX_OUTPUT_BYTES = 256 * 1024;

const PART_SCHEMAS = new Map<InventoryPart, TSchema>([
  ['system', InventorySystemSchema],
  ['chassis', InventoryChassisSchema],
  ['os', InventoryOsSchema],
  ['cpu', InventoryCpuSchema],
  ['memory', InventoryMemorySchema],
  ['disks', Type.Array(InventoryDiskSchema)],
  ['network', Type.Array(InventoryInterfaceSchema)],
]);

export interface CollectInventoryOptions {
  readonly runner: CommandRunner;
  /** How to start this agent again with other arguments (argv prefix): see self-command.ts. */
  readonly command: readonly string[];
  /** Each systeminformation call's limit: the posture policy's checkDeadlineMs. */
  readonly deadlineMs: number;
  /** Allowed for the collector to start and exit (COLLECTOR_STARTUP_MS; more under a loaded test machine's tsx). */
  readonly startupMs?: number;
  readonly now: () => Date;
}

export async function collectInventory(options: CollectInventoryOptions): Promise<Inventory> {
  const collectedAt = options.now().toISOString();
  // The parts are read one after another, each under the deadline.
  const limitMs = options.deadlineMs * INVENTORY_PARTS.length + (options.startupMs ?? COLLECTOR_STARTUP_MS);
  const result = await options.runner.run({
    argv: [...options.command, 'inventory', '--collector', '--deadline-ms', String(options.deadlineMs), '--parent-pid', String(process.pid)],
    timeoutMs: limitMs,
    maxOutputBytes: MAX_OUTPUT_BYTES,
  });
  const found = new Map<InventoryPart, unknown>();
  const missing = new Map<InventoryPart, string>();
  for (const line of result.stdout.split('\n')) {
    const parsed = parseLine(line);
    if (parsed === null || found.has(parsed.part) || missing.has(parsed.part)) continue;
    if ('missing' in parsed) missing.set(parsed.part, parsed.missing);
    else if (isValid(PART_SCHEMAS.get(parsed.part) ?? Type.Never(), parsed.value)) found.set(parsed.part, parsed.value);
    else missing.set(parsed.part, 'The collector reported it in a shape the inventory contract refuses.');
  }
  const stopped = result.timedOut
    ? `The collector was stopped at its limit of ${limitMs} ms.`
    : result.error !== undefined
      ? `The collector could not run: ${result.error.message}`
      : `The collector ended (exit code ${String(result.exitCode)}) without reporting it.`;
  for (const part of INVENTORY_PARTS) if (!found.has(part) && !missing.has(part)) missing.set(part, stopped);
  return fitToSize(assemble(collectedAt, found, missing));
}

function parseLine(line: string): { part: InventoryPart; value: unknown } | { part: InventoryPart; missing: string } | null {
  if (line.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const part = INVENTORY_PARTS.find((p) => Object.hasOwn(json, 'part') && (json as { part: unknown }).part === p);
  if (part === undefined) return null;
  if (Object.hasOwn(json, 'missing')) {
    const reason = (json as { missing: unknown }).missing;
    return { part, missing: typeof reason === 'string' ? reason.slice(0, 120) : 'No reason given.' };
  }
  return Object.hasOwn(json, 'value') ? { part, value: (json as { value: unknown }).value } : null;
}

function assemble(collectedAt: string, found: ReadonlyMap<InventoryPart, unknown>, missing: ReadonlyMap<InventoryPart, string>): Inventory {
  // Each value passed its part's schema in collectInventory; the whole is checked again below.
  const inventory = {
    schema: INVENTORY_SCHEMA,
    collectedAt,
    ...Object.fromEntries(INVENTORY_PARTS.filter((p) => found.has(p)).map((p) => [p, found.get(p)])),
    missing: INVENTORY_PARTS.filter((p) => missing.has(p)).map((p): InventoryMissing => ({ part: p, reason: (missing.get(p) ?? '').slice(0, 120) })),
  };
  if (!isValid(InventorySchema, inventory)) return { schema: INVENTORY_SCHEMA, collectedAt, missing: INVENTORY_PARTS.map((part) => ({ part, reason: 'The parts did not form a valid inventory.' })) };
  return inventory;
}

/**
 * Keeps the inventory within INVENTORY_MAX_BYTES, which the service enforces: the lists (disks,
 * then network interfaces) lose their last entries first; then whole parts go, those that find
 * the machine (system, chassis, OS) last, each named in `missing`. A real one is 1-2 KiB.
 */
export function fitToSize(inventory: Inventory): Inventory {
  let fitted = inventory;
  for (const list of ['disks', 'network'] as const) {
    while (inventoryBytes(fitted) > INVENTORY_MAX_BYTES && (fitted[list]?.length ?? 0) > 0) fitted = { ...fitted, [list]: fitted[list]?.slice(0, -1) };
  }
  const reason = `Left out to keep the inventory within ${INVENTORY_MAX_BYTES} bytes.`;
  for (const part of ['disks', 'network', 'cpu', 'memory', 'chassis', 'os', 'system'] as const) {
    if (inventoryBytes(fitted) <= INVENTORY_MAX_BYTES) break;
    if (fitted[part] === undefined) continue;
    const rest: Inventory = { ...fitted, missing: [...fitted.missing.filter((m) => m.part !== part), { part, reason }] };
    delete rest[part];
    fitted = rest;
  }
  return fitted;
}

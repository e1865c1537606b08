// When the inventory is collected and when it rides in the evidence: collected at the agent's
// start and then at most once a day (systeminformation takes seconds), and sent only when the
// service has not acknowledged this content yet or a day has passed since it last did, so the
// evidence stays small on the many attestations in between. An attestation waits for a running
// collection only briefly (it runs beside the posture checks): a slow one rides in a later one.
import type { Inventory } from '../../common/inventory.js';

export const INVENTORY_INTERVAL_MS = 24 * 3_600_000;

export interface InventoryForEvidence {
  /** The inventory to put in the next evidence, or null; collects first when one is due. Never rejects. */
  forEvidence(): Promise<Inventory | null>;
  /** The service accepted evidence carrying `inventory`. */
  sent(inventory: Inventory): void;
}

export interface InventoryReporterOptions {
  readonly collect: () => Promise<Inventory>;
  readonly now: () => Date;
  readonly intervalMs?: number;
  /** How long an attestation waits for a collection under way (default 2 s). */
  readonly maxWaitMs?: number;
  readonly log?: { warn(event: string, fields?: Record<string, unknown>): void };
}

/** The inventory's content without the time it was collected: what "changed" compares. */
const contentOf = (inventory: Inventory): string => JSON.stringify({ ...inventory, collectedAt: '' });

export function createInventoryReporter(options: InventoryReporterOptions): InventoryForEvidence {
  const interval = options.intervalMs ?? INVENTORY_INTERVAL_MS;
  let latest: Inventory | null = null;
  let collectedAt = -Infinity;
  let collecting: Promise<void> | null = null;
  let sentContent: string | null = null;
  let sentAt = -Infinity;
  const maxWaitMs = options.maxWaitMs ?? 2000;

  const briefly = async (running: Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    clearTimeout(timer);
  };

  const collect = (): Promise<void> => {
    collecting ??= options
      .collect()
      .then(
        (inventory) => {
          latest = inventory;
          if (inventory.missing.length > 0) options.log?.warn('inventory-partial', { missing: inventory.missing });
        },
        (e: unknown) => options.log?.warn('inventory-failed', { message: e instanceof Error ? e.message : String(e) }),
      )
      .finally(() => {
        // A failed collection is tried again at the next interval too, not on every attestation.
        collectedAt = options.now().getTime();
        collecting = null;
      });
    return collecting;
  };

  return {
    async forEvidence() {
      const t = options.now().getTime();
      if (t - collectedAt >= interval && collecting === null) void collect();
      if (collecting !== null) await briefly(collecting);
      if (latest === null) return null;
      const unchanged = sentContent === contentOf(latest);
      return unchanged && t - sentAt < interval ? null : latest;
    },
    sent(inventory) {
      sentContent = contentOf(inventory);
      sentAt = options.now().getTime();
    },
  };
}

// The inventory an agent sent in its evidence (`dta_inventory`), judged on its own: bounded in
// size (INVENTORY_MAX_BYTES), checked against its schema, and then either stored with the
// attestation or dropped with the reason in the attestation's audit record. It is informational:
// a bad one never refuses the evidence, and nothing in it ever reaches the tier.
import type { Inventory } from '../../common/inventory.js';
import { INVENTORY_MAX_BYTES, InventorySchema, inventoryBytes } from '../../common/inventory.js';
import { schemaIssues } from '../../common/validate.js';

export type InventoryVerdict =
  | { readonly outcome: 'absent' }
  | { readonly outcome: 'stored'; readonly inventory: Inventory; readonly json: string; readonly collectedAt: number }
  | { readonly outcome: 'dropped'; readonly problem: string };

/**
 * `value` is the evidence's `dta_inventory` claim as parsed from the signed JSON; `now` bounds its
 * collectedAt (a device's clock ahead of the service's would date it in the future).
 */
export function judgeInventory(value: unknown, now: number): InventoryVerdict {
  if (value === undefined) return { outcome: 'absent' };
  const bytes = inventoryBytes(value);
  if (bytes > INVENTORY_MAX_BYTES) return { outcome: 'dropped', problem: `The inventory is ${bytes} bytes; at most ${INVENTORY_MAX_BYTES} are kept.` };
  const issues = schemaIssues(InventorySchema, value, 3);
  if (issues.length > 0) return { outcome: 'dropped', problem: `The inventory does not match its schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`.slice(0, 300) };
  const inventory = value as Inventory;
  return { outcome: 'stored', inventory, json: JSON.stringify(inventory), collectedAt: Math.min(Date.parse(inventory.collectedAt), now) };
}

/** What the attestation's audit record says about the inventory. */
export function inventoryAuditDetails(verdict: InventoryVerdict): Record<string, unknown> {
  if (verdict.outcome === 'dropped') return { inventory: 'dropped', inventoryProblem: verdict.problem };
  return { inventory: verdict.outcome };
}

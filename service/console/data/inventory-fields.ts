// Reads the few fields IT finds a machine by from a device's stored inventory (common/inventory.ts,
// `dta-inventory/1`: system, chassis and os parts, each optional). The service checked it when it
// stored it; it is still read here as untrusted text: anything but a JSON object, a missing part
// or a field that is not a non-empty short string reads as absent.

export interface InventoryFields {
  /** The system's serial, else the chassis'. */
  readonly serial: string | null;
  readonly hostname: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
  readonly osBuild: string | null;
  /** The name IT gave the machine: its asset tag, where the firmware holds one. */
  readonly displayName: string | null;
}

const NO_FIELDS: InventoryFields = { serial: null, hostname: null, model: null, manufacturer: null, osBuild: null, displayName: null };
const MAX_FIELD = 256;

/** The inventory text parsed (null when it is not JSON) and its fields. */
export function readInventory(text: string | null): { raw: unknown; fields: InventoryFields } {
  if (text === null) return { raw: null, fields: NO_FIELDS };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { raw: null, fields: NO_FIELDS };
  }
  const system = part(raw, 'system');
  const chassis = part(raw, 'chassis');
  const os = part(raw, 'os');
  return {
    raw,
    fields: {
      serial: fieldText(system, 'serial') ?? fieldText(chassis, 'serial'),
      hostname: fieldText(os, 'hostname') ?? fieldText(os, 'fqdn'),
      model: fieldText(system, 'model'),
      manufacturer: fieldText(system, 'manufacturer') ?? fieldText(chassis, 'manufacturer'),
      osBuild: fieldText(os, 'build') ?? fieldText(os, 'release'),
      displayName: fieldText(chassis, 'assetTag'),
    },
  };
}

/** An object's own member that is itself a plain object (never one of Object.prototype's). */
function part(value: unknown, name: string): Record<string, unknown> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, name)) return null;
  const member = (value as Record<string, unknown>)[name];
  return typeof member === 'object' && member !== null && !Array.isArray(member) ? (member as Record<string, unknown>) : null;
}

/** An own member that is a non-empty string of sane length. */
function fieldText(record: Record<string, unknown> | null, name: string): string | null {
  if (record === null || !Object.hasOwn(record, name)) return null;
  const value = record[name];
  return typeof value === 'string' && value.trim() !== '' && value.length <= MAX_FIELD ? value : null;
}

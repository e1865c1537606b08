// The device inventory: what IT needs to find a machine (maker, model, serial, asset tag, OS
// build, hostname, MAC addresses). The agent collects it through systeminformation and sends it
// in the evidence as `dta_inventory` (docs/inventory.md); the service checks it against this
// schema and its size, stores it per device, and never uses it for the tier. Every string is
// length-bounded and every list is short, so a whole inventory stays under INVENTORY_MAX_BYTES.
import { Type, type Static } from '@sinclair/typebox';

export const INVENTORY_SCHEMA = 'dta-inventory/1';
/** The whole inventory as JSON text, in UTF-8 bytes: larger ones are dropped by the service. */
export const INVENTORY_MAX_BYTES = 8 * 1024;

/** The parts of an inventory, each collected by one systeminformation call. */
export const INVENTORY_PARTS = ['system', 'chassis', 'os', 'cpu', 'memory', 'disks', 'network'] as const;
export type InventoryPart = (typeof INVENTORY_PARTS)[number];
export const InventoryPartSchema = Type.Union(INVENTORY_PARTS.map((p) => Type.Literal(p)));

const Text = (maxLength: number) => Type.String({ maxLength });
const Bytes = Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1 });
const Count = Type.Integer({ minimum: 0, maximum: 100_000 });

export const InventorySystemSchema = Type.Object(
  {
    manufacturer: Text(128),
    model: Text(128),
    version: Text(128),
    serial: Text(128),
    /** The SMBIOS system UUID (the one MDMs show); empty where the firmware gives none. */
    uuid: Text(64),
    sku: Text(128),
    virtual: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const InventoryChassisSchema = Type.Object(
  { manufacturer: Text(128), type: Text(64), serial: Text(128), assetTag: Text(128) },
  { additionalProperties: false },
);

export const InventoryOsSchema = Type.Object(
  {
    platform: Text(32),
    distro: Text(128),
    release: Text(64),
    codename: Text(64),
    /** Windows' build (with UBR where known), macOS' build; empty on most Linux distributions. */
    build: Text(64),
    kernel: Text(128),
    arch: Text(32),
    hostname: Text(255),
    fqdn: Text(255),
  },
  { additionalProperties: false },
);

export const InventoryCpuSchema = Type.Object(
  { manufacturer: Text(64), brand: Text(128), cores: Count, physicalCores: Count },
  { additionalProperties: false },
);

export const InventoryMemorySchema = Type.Object({ totalBytes: Bytes }, { additionalProperties: false });

export const InventoryDiskSchema = Type.Object(
  { name: Text(64), type: Text(16), vendor: Text(64), interfaceType: Text(16), sizeBytes: Bytes, serial: Text(64) },
  { additionalProperties: false },
);
export const MAX_INVENTORY_DISKS = 8;

export const InventoryInterfaceSchema = Type.Object(
  {
    iface: Text(64),
    mac: Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' }),
    /** wired, wireless, or what the OS says (empty when unknown). */
    type: Text(16),
    /** The interface of the default route. */
    default: Type.Boolean(),
  },
  { additionalProperties: false },
);
export const MAX_INVENTORY_INTERFACES = 8;

/** A part that could not be collected, and why (timed out, failed): a partial inventory names what it lacks. */
export const InventoryMissingSchema = Type.Object({ part: InventoryPartSchema, reason: Text(120) }, { additionalProperties: false });

export const InventorySchema = Type.Object(
  {
    schema: Type.Literal(INVENTORY_SCHEMA),
    collectedAt: Type.String({ format: 'date-time', maxLength: 40 }),
    system: Type.Optional(InventorySystemSchema),
    chassis: Type.Optional(InventoryChassisSchema),
    os: Type.Optional(InventoryOsSchema),
    cpu: Type.Optional(InventoryCpuSchema),
    memory: Type.Optional(InventoryMemorySchema),
    disks: Type.Optional(Type.Array(InventoryDiskSchema, { maxItems: MAX_INVENTORY_DISKS })),
    network: Type.Optional(Type.Array(InventoryInterfaceSchema, { maxItems: MAX_INVENTORY_INTERFACES })),
    missing: Type.Array(InventoryMissingSchema, { maxItems: INVENTORY_PARTS.length }),
  },
  { additionalProperties: false },
);
export type Inventory = Static<typeof InventorySchema>;
export type InventorySystem = Static<typeof InventorySystemSchema>;
export type InventoryChassis = Static<typeof InventoryChassisSchema>;
export type InventoryOs = Static<typeof InventoryOsSchema>;
export type InventoryCpu = Static<typeof InventoryCpuSchema>;
export type InventoryDisk = Static<typeof InventoryDiskSchema>;
export type InventoryInterface = Static<typeof InventoryInterfaceSchema>;
export type InventoryMissing = Static<typeof InventoryMissingSchema>;

/** The size the service bounds: the inventory's JSON text in UTF-8 bytes. */
export function inventoryBytes(inventory: unknown): number {
  return new TextEncoder().encode(JSON.stringify(inventory)).length;
}

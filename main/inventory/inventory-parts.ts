// systeminformation's answers turned into the parts of the inventory contract (common/inventory.ts):
// pure functions, so recorded answers from Windows and macOS are tested on Linux. Every string is
// clipped to its bound and systeminformation's placeholders for "unknown" become empty strings;
// values of the wrong type (a library change, a strange firmware) become empty, never an error.
import type { Systeminformation } from 'systeminformation';
import type { InventoryChassis, InventoryCpu, InventoryDisk, InventoryInterface, InventoryOs, InventorySystem } from '../../common/inventory.js';
import { MAX_INVENTORY_DISKS, MAX_INVENTORY_INTERFACES } from '../../common/inventory.js';

/** What systeminformation writes when it found nothing. */
const PLACEHOLDERS = new Set(['-', 'unknown', 'n/a', 'none', 'not specified', 'not applicable', 'to be filled by o.e.m.', 'default string', 'system serial number', 'chassis serial number']);

/** A string field: trimmed, placeholders dropped, clipped to `max` characters (never half a surrogate pair). */
export function text(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  // Control characters carry nothing a person can read; they only grow the JSON (\u0000 is six bytes).
  // eslint-disable-next-line no-control-regex
  const trimmed = value.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (PLACEHOLDERS.has(trimmed.toLowerCase())) return '';
  return Array.from(trimmed).slice(0, max).join('');
}

/** A count or size: a non-negative safe integer, else 0. */
export function whole(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

export function systemPart(data: Systeminformation.SystemData): InventorySystem {
  return {
    manufacturer: text(data.manufacturer, 128),
    model: text(data.model, 128),
    version: text(data.version, 128),
    serial: text(data.serial, 128),
    uuid: text(data.uuid, 64).toLowerCase(),
    sku: text(data.sku, 128),
    virtual: data.virtual === true,
  };
}

export function chassisPart(data: Systeminformation.ChassisData): InventoryChassis {
  return { manufacturer: text(data.manufacturer, 128), type: text(data.type, 64), serial: text(data.serial, 128), assetTag: text(data.assetTag, 128) };
}

/** The OS part. systeminformation's `serial` (the OS installation id: /etc/machine-id on Linux) is left out: the device id is derived from it. */
export function osPart(data: Systeminformation.OsData): InventoryOs {
  return {
    platform: text(data.platform, 32),
    distro: text(data.distro, 128),
    release: text(data.release, 64),
    codename: text(data.codename, 64),
    build: text(data.build, 64),
    kernel: text(data.kernel, 128),
    arch: text(data.arch, 32),
    hostname: text(data.hostname, 255),
    fqdn: text(data.fqdn, 255),
  };
}

export function cpuPart(data: Systeminformation.CpuData): InventoryCpu {
  return { manufacturer: text(data.manufacturer, 64), brand: text(data.brand, 128), cores: Math.min(whole(data.cores), 100_000), physicalCores: Math.min(whole(data.physicalCores), 100_000) };
}

export function memoryPart(data: Systeminformation.MemData): { totalBytes: number } {
  return { totalBytes: whole(data.total) };
}

export function disksPart(data: readonly Systeminformation.DiskLayoutData[]): InventoryDisk[] {
  return data.slice(0, MAX_INVENTORY_DISKS).map((d) => ({
    name: text(d.name, 64),
    type: text(d.type, 16),
    vendor: text(d.vendor, 64),
    interfaceType: text(d.interfaceType, 16),
    sizeBytes: whole(d.size),
    serial: text(d.serialNum, 64),
  }));
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * The machine's own network interfaces, by which IT finds it in DHCP and switch tables: the
 * interface of the default route first, then the other physical ones. Loopback, virtual
 * interfaces (bridges, VPN tunnels, containers) and empty or all-zero addresses are left out.
 */
export function networkPart(data: readonly Systeminformation.NetworkInterfacesData[]): InventoryInterface[] {
  const own = data
    .map((i) => ({ ...i, mac: typeof i.mac === 'string' ? i.mac.trim().toLowerCase().replace(/-/g, ':') : '' }))
    .filter((i) => i.internal !== true && i.virtual !== true && MAC.test(i.mac) && i.mac !== '00:00:00:00:00:00');
  own.sort((a, b) => Number(b.default === true) - Number(a.default === true));
  return own.slice(0, MAX_INVENTORY_INTERFACES).map((i) => ({ iface: text(i.iface, 64), mac: i.mac, type: text(i.type, 16), default: i.default === true }));
}

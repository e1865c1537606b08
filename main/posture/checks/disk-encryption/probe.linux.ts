// Linux: find the block device under "/" (findmnt), then walk lsblk's device tree
// from it down to the disks, through LVM, RAID and partitions. The root is
// encrypted only when every path down crosses a dm-crypt ("crypt") device.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';

/**
 * Columns every util-linux still in support knows: 2.32 (RHEL 8) has no PATH column and
 * refuses the whole list ("lsblk: unknown column: PATH,…", exit 1). `--paths` prints NAME as
 * the same device path PATH gives on 2.33 and later (/dev/sda2, /dev/mapper/<dm name>), so one
 * command serves 2.32 to 2.40 with no second run. Records of the older NAME,PATH command
 * (support bundles from before) still parse.
 */
export const LSBLK_COLUMNS = ['NAME', 'TYPE', 'FSTYPE', 'MOUNTPOINT'] as const;

export const LINUX_DISK_PROBES = [
  { kind: 'command', id: 'linux.findmnt-root', argv: ['/usr/bin/findmnt', '--json', '--output', 'SOURCE,FSTYPE', '--target', '/'] },
  { kind: 'command', id: 'linux.lsblk', argv: ['/usr/bin/lsblk', '--json', '--paths', '--output', LSBLK_COLUMNS.join(',')] },
] as const;

export interface BlockDevice {
  readonly name: string;
  readonly path: string | null;
  readonly type: string;
  readonly fstype: string | null;
  readonly children: readonly BlockDevice[];
}

const NOT_BLOCK_FS = new Set(['overlay', 'tmpfs', 'nfs', 'nfs4', 'cifs', 'squashfs', '9p', 'virtiofs', 'fuse', 'ramfs', 'zfs', 'rootfs']);

export function parseFindmntRoot(json: string): { source: string; fstype: string } | undefined {
  const data = JSON.parse(json) as { filesystems?: { source?: unknown; fstype?: unknown }[] };
  const fs = data.filesystems?.[0];
  if (!fs || typeof fs.source !== 'string' || typeof fs.fstype !== 'string') return undefined;
  // btrfs subvolumes print as /dev/nvme0n1p3[/@]
  return { source: fs.source.replace(/\[.*\]$/, ''), fstype: fs.fstype };
}

export function parseLsblk(json: string): BlockDevice[] {
  const data = JSON.parse(json) as { blockdevices?: unknown[] };
  if (!Array.isArray(data.blockdevices)) throw new Error('lsblk printed no "blockdevices"');
  return data.blockdevices.map(toDevice);
}

interface RawDevice {
  readonly name?: unknown;
  readonly path?: unknown;
  readonly type?: unknown;
  readonly fstype?: unknown;
  readonly children?: unknown;
}

function toDevice(raw: unknown): BlockDevice {
  if (typeof raw !== 'object' || raw === null) throw new Error('lsblk printed a device that is not an object');
  const r = raw as RawDevice;
  if (typeof r.name !== 'string' || typeof r.type !== 'string') throw new Error('lsblk device without name or type');
  // --paths makes NAME the device path; the older command printed it in PATH.
  const path = typeof r.path === 'string' ? r.path : r.name.startsWith('/dev/') ? r.name : null;
  return {
    name: r.name,
    path,
    type: r.type,
    fstype: typeof r.fstype === 'string' ? r.fstype : null,
    children: Array.isArray(r.children) ? r.children.map(toDevice) : [],
  };
}

/** Every chain from a top-level disk down to the device at `path` (several for an LV on many PVs). */
export function chainsTo(devices: readonly BlockDevice[], path: string): BlockDevice[][] {
  const chains: BlockDevice[][] = [];
  const name = path.replace(/^\/dev\/(mapper\/)?/, '');
  const visit = (dev: BlockDevice, trail: BlockDevice[]): void => {
    const here = [...trail, dev];
    if (dev.path === path || (dev.path === null && dev.name === name)) chains.push(here);
    for (const child of dev.children) visit(child, here);
  };
  for (const d of devices) visit(d, []);
  return chains;
}

export const linuxDiskEncryptionCheck: CheckDefinition = {
  id: 'disk-encryption',
  probes: LINUX_DISK_PROBES,
  judge({ records }): CheckOutcome {
    const mntRec = records.get('linux.findmnt-root');
    const blkRec = records.get('linux.lsblk');
    const problem = probeProblem(mntRec) ?? probeProblem(blkRec);
    if (problem || !mntRec || !blkRec) return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });

    const root = parseFindmntRoot(mntRec.stdout);
    if (!root) return unknownOutcome('The root filesystem could not be found.');
    const facts: Record<string, unknown> = { rootSource: root.source, rootFsType: root.fstype };
    if (NOT_BLOCK_FS.has(root.fstype) || !root.source.startsWith('/dev/')) {
      return unknownOutcome(`The system disk cannot be inspected: "/" is a ${root.fstype} filesystem from ${root.source}, not a local block device.`, facts);
    }
    const chains = chainsTo(parseLsblk(blkRec.stdout), root.source);
    if (chains.length === 0) return unknownOutcome(`The device ${root.source} under "/" is not in the block device list.`, facts);

    const layers = chains.map((c) => c.map((d) => d.type));
    const encrypted = chains.map((c) => c.some((d) => d.type === 'crypt'));
    facts.layers = layers.map((l) => l.join('>'));
    facts.cryptDevices = chains.flatMap((c) => c.filter((d) => d.type === 'crypt').map((d) => d.name));
    facts.luks = chains.some((c) => c.some((d) => d.fstype === 'crypto_LUKS'));
    if (encrypted.every(Boolean)) {
      return { verdict: 'pass', reason: 'The system disk is encrypted (LUKS / dm-crypt).', remediation: 'none', facts };
    }
    if (encrypted.some(Boolean)) {
      return { verdict: 'fail', reason: 'Only part of the system disk is encrypted: the root volume also lies on an unencrypted device.', remediation: 'disk.encrypt-linux', facts };
    }
    return { verdict: 'fail', reason: 'The system disk is not encrypted. A lost or stolen device would expose patient data.', remediation: 'disk.encrypt-linux', facts };
  },
};

// The two readers of /proc/net that spare the Linux firewall check its programs: the legacy table
// names (whether iptables-legacy-save has anything to print) and /proc/net/if_inet6 (whether an
// interface other than loopback has an IPv6 address), on the kernel's real output and on what
// must send the check back to the program.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipv6InUseFromIfInet6 } from '../../../../main/posture/checks/firewall/if-inet6-reader.js';
import { legacySaveRecord, listsLegacyTables } from '../../../../main/posture/checks/firewall/legacy-table-names.js';
import { fileError, fileRec, fixture, rec } from '../../../kit/probe-records.js';

const IF_INET6 = '/proc/net/if_inet6';
const NAMES = '/proc/net/ip_tables_names';
const inet6 = (text: string, truncated = false) => ({ ...fileRec('linux.if-inet6', IF_INET6, text), truncated });

test('if_inet6 as a namespace with a veth printed it: an interface other than loopback has IPv6', () => {
  assert.equal(ipv6InUseFromIfInet6(fileRec('linux.if-inet6', IF_INET6, fixture('linux', 'linux.if-inet6', 'veth-and-loopback'))), true);
});

test('if_inet6 with loopback alone, or no file (no IPv6 in the kernel): no IPv6 to judge', () => {
  assert.equal(ipv6InUseFromIfInet6(inet6('00000000000000000000000000000001 01 80 10 80       lo\n')), false);
  assert.equal(ipv6InUseFromIfInet6(inet6('')), false);
  assert.equal(ipv6InUseFromIfInet6(fileError('linux.if-inet6', IF_INET6, 'FILE_MISSING')), false);
});

test('if_inet6 with an interface index past 0xff, flags past 0xff (older kernels) and a short name padded to 8 columns is read', () => {
  assert.equal(ipv6InUseFromIfInet6(inet6('fe800000000000000000000000000001 1a4 40 20 80     eth0\n')), true);
  assert.equal(ipv6InUseFromIfInet6(inet6('20010db8000000000000000000000001 03 40 00 800     eth1\n00000000000000000000000000000001 01 80 10 80       lo\n')), true);
});

test('if_inet6 that does not tell sends the check to ip: unreadable, a line not in the kernel format, cut short with loopback alone', () => {
  assert.equal(ipv6InUseFromIfInet6(fileError('linux.if-inet6', IF_INET6, 'ACCESS_DENIED')), undefined);
  assert.equal(ipv6InUseFromIfInet6(undefined), undefined);
  assert.equal(ipv6InUseFromIfInet6(inet6('fe80::1/64 eth0\n')), undefined);
  assert.equal(ipv6InUseFromIfInet6(inet6('00000000000000000000000000000001 01 80 10 80       lo\n', true)), undefined);
});

test('legacy table names: absent or empty is no table; a name is a table; unreadable or unrecorded is not known', () => {
  assert.equal(listsLegacyTables(fileError('linux.ip-tables-names', NAMES, 'FILE_MISSING')), false);
  assert.equal(listsLegacyTables(fileRec('linux.ip-tables-names', NAMES, '')), false);
  assert.equal(listsLegacyTables(fileRec('linux.ip-tables-names', NAMES, fixture('linux', 'linux.ip-tables-names', 'legacy-next-to-nft'))), true);
  assert.equal(listsLegacyTables(fileError('linux.ip-tables-names', NAMES, 'ACCESS_DENIED')), null);
  assert.equal(listsLegacyTables(undefined), null);
});

test('the legacy save as the judge reads it: its own record when it ran, an empty answer when no table is listed, nothing otherwise', () => {
  const ran = rec('linux.iptables-legacy-save', '*filter\nCOMMIT\n');
  const save = (records: ReturnType<typeof rec>[]) => legacySaveRecord(new Map(records.map((r) => [r.id, r])), 'linux.iptables-legacy-save', 'linux.ip-tables-names', '/usr/sbin/iptables-legacy-save');
  assert.equal(save([ran, fileRec('linux.ip-tables-names', NAMES, '')]), ran);
  const empty = save([fileError('linux.ip-tables-names', NAMES, 'FILE_MISSING')]);
  assert.deepEqual({ stdout: empty?.stdout, exitCode: empty?.exitCode, error: empty?.error }, { stdout: '', exitCode: 0, error: undefined });
  assert.equal(save([fileRec('linux.ip-tables-names', NAMES, 'filter\n')]), undefined);
  assert.equal(save([fileError('linux.ip-tables-names', NAMES, 'ACCESS_DENIED')]), undefined);
});

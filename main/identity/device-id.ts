// The device id: an app-specific, keyed hash of the OS machine id, as machine-id(5) asks
// ("hash it with HMAC-SHA256 using a fixed, application-specific key"), so the raw id is
// never sent and cannot be matched with other apps' ids. 128 bits, like systemd's
// sd_id128_get_machine_app_specific().
import { createHmac } from 'node:crypto';
import { AgentError } from '../../common/errors.js';

/** Fixed, public, application-specific key; changing it changes every device id. */
const APP_KEY = Buffer.from('9f1c1d3e6b2a4f0e8a7d5c3b2e1f0a9d', 'hex');

export const DEVICE_ID_PATTERN = /^[0-9a-f]{32}$/;

export function deriveDeviceId(machineId: string): string {
  return createHmac('sha256', APP_KEY).update(normalizeMachineId(machineId)).digest('hex').slice(0, 32);
}

/**
 * Accepts only a real machine id: 128 bits as 32 hex digits (Linux), a GUID (Windows
 * MachineGuid) or a UUID (macOS IOPlatformUUID). A hostname — node-machine-id's Linux
 * fallback — or an all-zero id is refused: it would make a guessable device id.
 */
export function normalizeMachineId(raw: string): string {
  const hex = raw.trim().toLowerCase().replace(/^\{|\}$/g, '');
  const compact = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(hex) ? hex.replace(/-/g, '') : hex;
  if (!/^[0-9a-f]{32}$/.test(compact) || /^0+$/.test(compact) || /^f+$/.test(compact)) {
    throw new AgentError('MACHINE_ID_UNAVAILABLE', 'The operating system has no usable machine id, so this device cannot get a stable identity. Ask IT to re-provision it.');
  }
  return compact;
}

// The device key in software: a P-256 JWK kept in a Keystore (the root-only key file of the
// system agent, or the OS keystore of a person in developer mode). Loaded keys live in the
// process as non-extractable WebCrypto keys.
import { createDeviceKey, keyAccount, loadDeviceKey } from './device-key.js';
import type { DeviceKeyStore } from './key-store.js';
import type { Keystore } from './keystore.js';

export function createSoftwareKeyStore(keystore: Keystore, kind: 'file' | 'os-keystore'): DeviceKeyStore {
  return {
    protection: 'software',
    kind,
    create: (deviceId, slot) => createDeviceKey(keystore, keyAccount(deviceId, slot)),
    load: (deviceId, slot) => loadDeviceKey(keystore, keyAccount(deviceId, slot)),
    remove: async (deviceId, slot) => {
      await keystore.delete(keyAccount(deviceId, slot));
    },
    // Two steps (a keystore has no rename); a crash between them leaves both slots holding
    // the new key, which the next load sees and finishes (DeviceIdentity.reload).
    async promote(deviceId) {
      const value = await keystore.get(keyAccount(deviceId, 'next'));
      if (value === null) return;
      await keystore.set(keyAccount(deviceId), value);
      await keystore.delete(keyAccount(deviceId, 'next'));
    },
    assertWritable: () => keystore.assertWritable(),
  };
}

// Windows policy keys read in-process with registry-js (GitHub Desktop's N-API binding to
// RegEnumValue): no reg.exe, which Group Policy's "Prevent access to registry editing
// tools" blocks on many hospital machines. Loaded only on Windows.
import type * as RegistryJsModule from 'registry-js';
import type { RegistrySource, RegValue } from './registry-export.js';

type RegistryJs = typeof RegistryJsModule;

export async function createLiveRegistrySource(): Promise<RegistrySource> {
  const registry: RegistryJs = await import('registry-js');
  return {
    values(key) {
      const [hive = '', ...rest] = key.split('\\');
      const hkey = hive === 'HKEY_LOCAL_MACHINE' ? registry.HKEY.HKEY_LOCAL_MACHINE : hive === 'HKEY_CURRENT_USER' ? registry.HKEY.HKEY_CURRENT_USER : undefined;
      if (hkey === undefined) return null;
      const entries = registry.enumerateValuesSafe(hkey, rest.join('\\'));
      if (entries.length === 0) return null;
      const out = new Map<string, RegValue>();
      for (const e of entries) {
        if (e.type === registry.RegistryValueType.REG_DWORD) out.set(e.name, { type: 'dword', value: e.data });
        else out.set(e.name, { type: 'sz', value: e.data });
      }
      return out;
    },
  };
}

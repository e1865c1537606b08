// Ubuntu Pro's state from `pro status --format json`: Expanded Security Maintenance counts as
// support only where a subscription is attached and ESM Infra (the main archive's fixes) is on.
// Real output: tests/fixtures/linux/linux.pro-status (sources in SOURCES.md).

export interface UbuntuProState {
  readonly attached: boolean;
  readonly esmInfraEnabled: boolean;
  /** The contract's end, when attached (9999-12-31 for the free personal subscription). */
  readonly expires: string | null;
}

/** Throws on output that is not the status document (the engine turns that into `unknown`). */
export function parseProStatus(text: string): UbuntuProState {
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null || !('attached' in doc) || typeof doc.attached !== 'boolean') throw new Error('pro status printed no "attached" field');
  const services = 'services' in doc && Array.isArray(doc.services) ? (doc.services as unknown[]) : [];
  const esmInfra = services.find((s): s is { status?: unknown } => typeof s === 'object' && s !== null && 'name' in s && s.name === 'esm-infra');
  const expires = 'expires' in doc && typeof doc.expires === 'string' && /^\d{4}-\d{2}-\d{2}/.test(doc.expires) ? doc.expires.slice(0, 10) : null;
  return { attached: doc.attached, esmInfraEnabled: doc.attached && esmInfra?.status === 'enabled', expires: doc.attached ? expires : null };
}

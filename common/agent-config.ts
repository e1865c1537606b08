// The agent's settings: the JSON file `dta agent --config` reads (validated here), or IT's
// managed configuration (main/config/load-config.ts). Both become one AgentConfig, whose
// tables keyed by what a web page or a request names are Maps, never plain objects: a key
// such as `constructor` or `__proto__` must find nothing.
import { Type, type Static } from '@sinclair/typebox';
import type { AccessServicePrefix } from './access-service-prefix.js';
import { normalizeOrigin, parseAccessServicePrefix } from './access-service-prefix.js';
import { AgentError } from './errors.js';

export const KEY_STORAGES = ['auto', 'tpm', 'file', 'os-keystore'] as const;
export type KeyStorage = (typeof KEY_STORAGES)[number];

/** A web origin as browsers send it: scheme, host, optional port; no path. */
const ORIGIN_PATTERN = '^https?://[^/\\s]+$';
const AUDIENCE = Type.String({ minLength: 1, maxLength: 500 });

/** The agent's JSON configuration file, as written. */
export const AgentConfigFileSchema = Type.Object(
  {
    serviceUrl: Type.String({ format: 'uri' }),
    /** Provisioned by MDM; without it enrolment waits for IT's approval. */
    enrolmentSecret: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    dataDir: Type.String({ minLength: 1 }),
    /** Web origins that may ask the loopback endpoint for a token, each with the audiences it may ask for. */
    allowedOrigins: Type.Record(Type.String({ pattern: ORIGIN_PATTERN }), Type.Array(AUDIENCE, { maxItems: 50 }), { additionalProperties: false }),
    /**
     * Audience -> the URL prefixes of that access service (`https://ehr.hospital.example/api`).
     * The loopback endpoint signs proofs only for URLs under them.
     */
    accessServices: Type.Record(Type.String({ minLength: 1, maxLength: 500 }), Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 50 })),
    loopbackPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    cadence: Type.Object(
      {
        /** Cheap checks (firewall) run this often, to see drift within seconds. */
        fastSeconds: Type.Number({ minimum: 0.5, maximum: 600 }),
        /** All checks run this often. */
        fullSeconds: Type.Number({ minimum: 10, maximum: 86_400 }),
        /** The cheap checks' poll while the OS reports their changes (postureEvents); 60 when absent. */
        safetySeconds: Type.Optional(Type.Number({ minimum: 5, maximum: 3600 })),
      },
      { additionalProperties: false },
    ),
    backoff: Type.Object({ initialMs: Type.Integer({ minimum: 100 }), maxMs: Type.Integer({ minimum: 1000 }) }, { additionalProperties: false }),
    /**
     * Where the device key lives: `auto` (the TPM where there is one, else a key file only the
     * agent's account can read), `tpm`, `file`, or `os-keystore` (a person's keystore: the
     * single-user developer mode, not the deployment).
     */
    keyStorage: Type.Optional(Type.Union(KEY_STORAGES.map((k) => Type.Literal(k)))),
    /** The TPM's TCTI (`device:/dev/tpmrm0`); found on its own when absent. */
    tpmTcti: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** The local IPC endpoint for the trays and `dta status` (a Unix socket path or a named pipe). */
    ipcPath: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /**
     * Whether the agent follows the OS's change notifications (nftables changes, the Windows
     * firewall's and BitLocker's event logs, the macOS firewall's preferences) to check a change
     * at once, polling the cheap checks only every cadence.safetySeconds while they work. On
     * (true) when absent; false polls every cadence.fastSeconds.
     */
    postureEvents: Type.Optional(Type.Boolean()),
    /** The access services' outage grace (minutes), shown to clinicians during an outage; the agent does not enforce it. */
    outageGraceMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })),
  },
  { additionalProperties: false },
);
export type AgentConfigFile = Static<typeof AgentConfigFileSchema>;

export interface AgentConfig extends Omit<AgentConfigFile, 'allowedOrigins' | 'accessServices'> {
  /** Web origin -> the audiences it may ask tokens for. */
  readonly allowedOrigins: ReadonlyMap<string, readonly string[]>;
  /** Audience -> where its access service is reached (proofs are made only for those URLs). */
  readonly accessServices: ReadonlyMap<string, readonly AccessServicePrefix[]>;
}

/** Adds `values` under `key`, keeping earlier ones (an entry listed twice adds up, in order). */
function addTo<T>(map: Map<string, T[]>, key: string, values: readonly T[]): void {
  map.set(key, [...(map.get(key) ?? []), ...values]);
}

/** Origin -> audiences from [origin, audiences] pairs; throws CONFIG_INVALID naming a bad origin. */
export function allowedOriginsFrom(entries: Iterable<readonly [string, readonly string[]]>, source = 'allowedOrigins'): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [origin, audiences] of entries) {
    const normalized = normalizeOrigin(origin);
    if (!normalized.ok) throw new AgentError('CONFIG_INVALID', `${source}: the allowed origin ${JSON.stringify(origin.slice(0, 200))} ${normalized.reason}.`);
    addTo(map, normalized.origin, audiences);
  }
  return map;
}

/** Audience -> URL prefixes from [audience, urls] pairs; throws CONFIG_INVALID naming a bad URL. */
export function accessServicesFrom(entries: Iterable<readonly [string, readonly string[]]>, source = 'accessServices'): Map<string, AccessServicePrefix[]> {
  const map = new Map<string, AccessServicePrefix[]>();
  for (const [audience, urls] of entries) {
    const prefixes = urls.map((text) => {
      const parsed = parseAccessServicePrefix(text);
      if (!parsed.ok) throw new AgentError('CONFIG_INVALID', `${source}: the access service URL ${JSON.stringify(text.slice(0, 200))} of audience ${JSON.stringify(audience.slice(0, 200))} ${parsed.reason}.`);
      return parsed.prefix;
    });
    addTo(map, audience, prefixes);
  }
  return map;
}

/** The configuration file's content (already schema-checked) as the agent's settings. */
export function agentConfigFromFile(file: AgentConfigFile, source: string): AgentConfig {
  return {
    ...file,
    // Object.entries lists own properties only: a "__proto__" key in the JSON is data here, not a prototype.
    allowedOrigins: allowedOriginsFrom(Object.entries(file.allowedOrigins), source),
    accessServices: accessServicesFrom(Object.entries(file.accessServices), source),
  };
}

export const DEFAULT_CADENCE = { fastSeconds: 2, fullSeconds: 300 } as const;
export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 300_000 } as const;

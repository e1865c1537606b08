// The agent's settings. Managed configuration (MDM) fills these in a later step; for now
// they come from a JSON file, validated here.
import { Type, type Static } from '@sinclair/typebox';

export const KEY_STORAGES = ['auto', 'tpm', 'file', 'os-keystore'] as const;
export type KeyStorage = (typeof KEY_STORAGES)[number];

export const AgentConfigSchema = Type.Object(
  {
    serviceUrl: Type.String({ format: 'uri' }),
    /** Provisioned by MDM; without it enrolment waits for IT's approval. */
    enrolmentSecret: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
    dataDir: Type.String({ minLength: 1 }),
    /** Web origins that may ask the loopback endpoint for a token, each with the audiences it may ask for. */
    allowedOrigins: Type.Record(Type.String({ pattern: '^https?://[^/]+$' }), Type.Array(Type.String({ minLength: 1, maxLength: 500 }))),
    loopbackPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    cadence: Type.Object(
      {
        /** Cheap checks (firewall) run this often, to see drift within seconds. */
        fastSeconds: Type.Number({ minimum: 0.5, maximum: 600 }),
        /** All checks run this often. */
        fullSeconds: Type.Number({ minimum: 10, maximum: 86_400 }),
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
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;

export const DEFAULT_CADENCE = { fastSeconds: 2, fullSeconds: 300 } as const;
export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 300_000 } as const;

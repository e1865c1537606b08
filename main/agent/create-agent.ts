// Builds the headless agent from its configuration: identity (machine id, OS keystore,
// data folder), live posture, the service client and the log.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../common/agent-config.js';
import { AgentConfigFileSchema, DEFAULT_BACKOFF, DEFAULT_CADENCE, agentConfigFromFile } from '../../common/agent-config.js';
import { AgentError } from '../../common/errors.js';
import type { PosturePolicy } from '../../common/posture.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import { parseWith } from '../../common/validate.js';
import { deriveDeviceId } from '../identity/device-id.js';
import { DeviceIdentity } from '../identity/identity.js';
import { createFileKeystore } from '../identity/file-keystore.js';
import type { DeviceKeyStore } from '../identity/key-store.js';
import type { Keystore } from '../identity/keystore.js';
import { MACOS_KEY_HELPER } from '../identity/macos-key-store.js';
import type { KeyStoreLog } from '../identity/native-key-store.js';
import { createOsKeyStore } from '../identity/os-key-store.js';
import { createKeytarKeystore } from '../identity/keystore.js';
import { createSoftwareKeyStore } from '../identity/software-key-store.js';
import { createTpmKeyStore, detectTpm, TPM_TOOL_PATHS, type TpmKeyStore } from '../identity/tpm-key-store.js';
import { IOREG, readMachineId } from '../identity/machine-id.js';
import { createCommandRunner } from '../posture/command-runner.js';
import { postureEventsFor } from '../posture/events/posture-events-for.js';
import { currentPlatform, powershellPath } from '../posture/platform.js';
import type { AgentLog, PostureSource } from './agent.js';
import { Agent } from './agent.js';
import { createFileLog, type LogLevel } from './agent-log.js';
import { createLivePostureSource, fastChecksFor } from './posture-source.js';
import { createServiceClient } from './service-client.js';
import { attestDeviceKey } from './key-attestation.js';
import { collectInventory } from '../inventory/collect-inventory.js';
import { createInventoryReporter } from '../inventory/inventory-reporter.js';

export function readAgentConfig(path: string): AgentConfig {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `The agent configuration ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const withDefaults = { allowedOrigins: {}, accessServices: {}, loopbackPort: 47_100, cadence: DEFAULT_CADENCE, backoff: DEFAULT_BACKOFF, ...json };
  const file = parseWith(AgentConfigFileSchema, withDefaults, (summary) => new AgentError('CONFIG_INVALID', `The agent configuration ${path} is invalid: ${summary}`));
  return agentConfigFromFile(file, `The agent configuration ${path}`);
}

export interface AgentParts {
  readonly agent: Agent;
  readonly log: AgentLog;
}

/** `posturePolicy`: a fixed policy, or where to read the one in force at each check (IT may change it while the agent runs). */
/** `inventoryCommand`: how to start this agent's CLI again (self-command.ts), to collect the device inventory; absent, none is collected (`dta token`). */
export function createAgent(config: AgentConfig, options: { keystore?: Keystore; echo?: (line: string) => void; posturePolicy?: PosturePolicy | (() => PosturePolicy); logLevel?: () => LogLevel; inventoryCommand?: readonly string[] } = {}): AgentParts {
  const platform = currentPlatform();
  // IT's logLevel is read at every line, so a change applies without a restart.
  const log = createFileLog(join(config.dataDir, 'logs'), { ...(options.echo ? { echo: options.echo } : {}), ...(options.logLevel ? { level: options.logLevel } : {}) });
  const keys = options.keystore ? createSoftwareKeyStore(options.keystore, 'os-keystore') : createKeyStore(config, platform, log);
  const idRunner = createCommandRunner({ allowList: new Set([powershellPath(), IOREG]) });
  // The device id does not change while the agent runs: read it once (on Windows and macOS
  // that starts a process), and again only until it has been read.
  let deviceId: string | undefined;
  const loadIdentity = async (): Promise<DeviceIdentity> => {
    deviceId ??= deriveDeviceId(await readMachineId({ platform, runner: idRunner, ...(platform === 'win32' ? { powershellPath: powershellPath() } : {}) }));
    return DeviceIdentity.load({ deviceId, keys, dataDir: config.dataDir, now: () => new Date() });
  };
  const client = createServiceClient({ baseUrl: config.serviceUrl });
  const posturePolicy = options.posturePolicy ?? defaultPosturePolicy();
  const inventoryCommand = options.inventoryCommand;
  const inventory = inventoryCommand?.[0] === undefined
    ? undefined
    : createInventoryReporter({
        // Each systeminformation call gets the probes' limit (IT's checkDeadlineMs in force).
        collect: () => collectInventory({ runner: createCommandRunner({ allowList: new Set([inventoryCommand[0] ?? '']) }), command: inventoryCommand, deadlineMs: (typeof posturePolicy === 'function' ? posturePolicy() : posturePolicy).checkDeadlineMs, now: () => new Date() }),
        now: () => new Date(),
        log,
      });
  // IT may turn the OS's change events off (postureEvents: false): the cheap checks are then polled every fastSeconds.
  const postureEvents = config.postureEvents === false ? null : postureEventsFor(platform, { log });
  if (postureEvents === null) log.info('posture-events', { mode: 'polling', reason: 'postureEvents is false in the configuration' });
  const agent = new Agent({
    loadIdentity,
    posture: postureFollowing(platform, posturePolicy),
    client,
    // A key in the TPM is proven to be there (key attestation), once per key.
    ...(isTpmKeyStore(keys) ? { attestKey: (id: string) => attestDeviceKey(keys, client, id) } : {}),
    ...(config.enrolmentSecret !== undefined ? { enrolmentSecret: config.enrolmentSecret } : {}),
    platformHostname: hostname(),
    cadence: config.cadence,
    fastChecks: fastChecksFor(platform),
    ...(postureEvents !== null ? { postureEvents } : {}),
    backoff: config.backoff,
    ...(config.outageGraceMinutes !== undefined ? { outageGraceMinutes: config.outageGraceMinutes } : {}),
    ...(inventory !== undefined ? { inventory } : {}),
    log,
  });
  return { agent, log };
}

/** The live posture source, judged by the policy in force when each check runs. */
function postureFollowing(platform: ReturnType<typeof currentPlatform>, policy: PosturePolicy | (() => PosturePolicy)): PostureSource {
  if (typeof policy !== 'function') return createLivePostureSource(platform, policy);
  let inForce = policy();
  let source = createLivePostureSource(platform, inForce);
  return {
    run(only) {
      if (policy() !== inForce) {
        inForce = policy();
        source = createLivePostureSource(platform, inForce);
      }
      return source.run(only);
    },
  };
}

/**
 * The device key's store, by configuration: on Linux the TPM where there is one (through
 * tpm2-tools), else a key file that only the agent's account can read; on Windows the TPM
 * through the Platform Crypto Provider, else the software key storage provider; on macOS the
 * Secure Enclave, else the System keychain (os-key-store.ts, which keeps a key already in the
 * key file there). `file` is the key file everywhere; `os-keystore` is a person's keystore,
 * for the single-user developer mode.
 */
export function createKeyStore(config: AgentConfig, platform: ReturnType<typeof currentPlatform>, log?: KeyStoreLog): DeviceKeyStore {
  const storage = config.keyStorage ?? 'auto';
  const keyDir = join(config.dataDir, 'keys');
  if (storage === 'os-keystore') return createSoftwareKeyStore(createKeytarKeystore(), 'os-keystore');
  if (platform !== 'linux' && storage !== 'file') {
    const allowed = platform === 'win32' ? powershellPath() : MACOS_KEY_HELPER;
    return createOsKeyStore({
      platform,
      keyDir,
      hardwareRequired: storage === 'tpm',
      fileStore: () => createSoftwareKeyStore(createFileKeystore({ dir: keyDir }), 'file'),
      runner: createCommandRunner({ allowList: new Set([allowed]) }),
      powershellPath: powershellPath(),
      ...(log ? { log } : {}),
    });
  }
  const tpmAvailable = platform === 'linux' && TPM_TOOL_PATHS.every((p) => existsSync(p));
  const tcti = config.tpmTcti ?? (tpmAvailable ? detectTpm() : null);
  if (storage === 'tpm' || (storage === 'auto' && tcti !== null)) {
    if (tcti === null || !tpmAvailable) throw new AgentError('CONFIG_INVALID', `The device key is to be kept in a TPM (keyStorage "${storage}"${config.tpmTcti !== undefined ? `, tpmTcti "${config.tpmTcti}"` : ''}), but ${tcti === null ? 'no TPM 2.0 was found (/dev/tpmrm0, /dev/tpm0)' : 'tpm2-tools is not installed'}.`);
    return createTpmKeyStore({ runner: createCommandRunner({ allowList: new Set(TPM_TOOL_PATHS) }), keyDir: join(keyDir, 'tpm'), tcti });
  }
  return createSoftwareKeyStore(createFileKeystore({ dir: keyDir }), 'file');
}

function isTpmKeyStore(keys: DeviceKeyStore): keys is TpmKeyStore {
  return keys.kind === 'tpm' && 'attestKey' in keys;
}

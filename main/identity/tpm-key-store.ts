// The device key in a TPM 2.0 on Linux, through Debian's tpm2-tools. The private key is
// made inside the TPM (sensitivedataorigin) and can never leave it (fixedtpm|fixedparent):
// keyDir holds only the blobs the TPM wrapped under its storage primary key, which are
// useless on any other TPM or after a TPM clear.
//
// The storage primary is derived again for every operation from the owner seed and a fixed
// storage-key template (ECC P-256, AES-128-CFB, no unique data: the primary tpm2-tools derive
// for a TSS2 PEM key with parent 0x40000001), so nothing is persisted in the TPM's NV memory.
// Without a resource manager (/dev/tpm0, swtpm) transient objects stay loaded after a tool
// exits and the TPM has as few as 3 slots: every operation ends with tpm2_flushcontext -t,
// failures included, and operations on one TPM run one at a time. Through a resource manager
// (/dev/tpmrm0, tpm2-abrmd) each tool's objects go when it exits, so no flush is run.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError, isAgentError } from '../../common/errors.js';
import type { CommandResult, CommandRunner } from '../posture/command-runner.js';
import type { DeviceKeyStore, KeySlot } from './key-store.js';
import { openPrivateFolder } from './private-folder.js';
import type { DeviceSigner } from './signer.js';
import { jwkThumbprint } from './signer.js';
import type { TpmCredentialChallenge, TpmKeyAttestation, TpmSession } from './tpm-attest.js';
import { activateCredential, certifyDeviceKey } from './tpm-attest.js';
import { KeyLostError } from './key-lost.js';
import type { WrappedKey } from './tpm-parse.js';
import { joseSignatureFromDer, parseWrappedKey, publicJwkFromPem, serializeWrappedKey, TPM_RC, tpmResponseCode } from './tpm-parse.js';

/** Debian's tpm2-tools; the composition root puts TPM_TOOL_PATHS on the runner's allow-list. */
export const TPM_TOOLS = {
  createprimary: '/usr/bin/tpm2_createprimary',
  create: '/usr/bin/tpm2_create',
  load: '/usr/bin/tpm2_load',
  readpublic: '/usr/bin/tpm2_readpublic',
  sign: '/usr/bin/tpm2_sign',
  flushcontext: '/usr/bin/tpm2_flushcontext',
  // Key attestation (tpm-attest.ts)
  nvread: '/usr/bin/tpm2_nvread',
  createek: '/usr/bin/tpm2_createek',
  certify: '/usr/bin/tpm2_certify',
  startauthsession: '/usr/bin/tpm2_startauthsession',
  policysecret: '/usr/bin/tpm2_policysecret',
  activatecredential: '/usr/bin/tpm2_activatecredential',
} as const;
type AttestToolName = 'nvread' | 'createek' | 'certify' | 'startauthsession' | 'policysecret' | 'activatecredential';
/** The key store's own tools are required; the attestation ones default to TPM_TOOLS. */
export type TpmTools = { readonly [K in Exclude<keyof typeof TPM_TOOLS, AttestToolName>]: string } & { readonly [K in AttestToolName]?: string };
export const TPM_TOOL_PATHS: readonly string[] = Object.values(TPM_TOOLS);

export interface TpmKeyStoreOptions {
  /** Must allow the paths in `tools` (TPM_TOOL_PATHS by default). */
  readonly runner: CommandRunner;
  /** Folder for the wrapped blobs, private to the agent's account: made 0700 on first write, refused when looser. */
  readonly keyDir: string;
  /** TSS2 TCTI string, e.g. `device:/dev/tpmrm0` (see detectTpm) or `swtpm:host=127.0.0.1,port=2321`. */
  readonly tcti: string;
  readonly tools?: TpmTools;
  /** Deadline per tpm2 command; a TPM busy with a self-test can take seconds. */
  readonly timeoutMs?: number;
}

/**
 * The TCTI of this machine's TPM, or null when it has none. The kernel's resource manager
 * (/dev/tpmrm0, Linux 4.12+) is preferred: it lets other TPM users run alongside us.
 */
export function detectTpm(exists: (path: string) => boolean = existsSync): string | null {
  for (const device of ['/dev/tpmrm0', '/dev/tpm0']) if (exists(device)) return `device:${device}`;
  return null;
}

/**
 * Whether the TCTI reaches the TPM through a resource manager (the kernel's /dev/tpmrmN,
 * tpm2-abrmd), which flushes a tool's objects when the tool exits: there a flush is a
 * wasted tool run (≈ 40% of a signature). Anything else is flushed by us.
 */
export function hasResourceManager(tcti: string): boolean {
  return /^device:\/dev\/tpmrm\d+$/.test(tcti) || /^tabrmd(?::|$)/.test(tcti);
}

// The same primary every time for the same owner seed (and the same as tpm2-tools' TSS2 PEM parent).
const PRIMARY_ARGS = ['-C', 'o', '-g', 'sha256', '-G', 'ecc256:null:aes128cfb', '-a', 'restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda'];
// Sign-only, ECDSA with SHA-256 only; empty auth with noda, so a dictionary-attack lockout
// caused by another TPM user does not lock the device key out.
const KEY_ARGS = ['-g', 'sha256', '-G', 'ecc256:ecdsa-sha256', '-a', 'sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda'];
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
// What tpm2_load says when the blobs are not a key this TPM can load: its inputs are only our blobs.
const KEY_LOST = new Set<number>([TPM_RC.INTEGRITY, TPM_RC.HIERARCHY, TPM_RC.BINDING, TPM_RC.SIZE]);
// Of those, the ones that mean the TPM's storage seed changed since the key was made.
const SEED_CHANGED = new Set<number>([TPM_RC.INTEGRITY, TPM_RC.HIERARCHY]);
const KEY_LOST_MESSAGE = 'The TPM no longer holds the device key (the TPM was cleared or replaced, or the key file is damaged). The device needs a new key, approved by IT.';

/** A tpm2 tool that ran and failed; `rc` is the TPM's response code when it gave one. */
class TpmCommandFailed extends Error {
  override readonly name = 'TpmCommandFailed';
  constructor(
    readonly tool: string,
    readonly rc: number | null,
    readonly stderr: string,
  ) {
    super(`${tool} failed${rc === null ? '' : ` (TPM_RC 0x${rc.toString(16)})`}: ${toolErrorLine(stderr)}`);
  }
}

// One queue per TPM in this process: `tpm2_flushcontext -t` would flush another
// operation's objects, and a TPM without a resource manager has few slots anyway.
const queues = new Map<string, Promise<unknown>>();

function serialise<T>(tcti: string, work: () => Promise<T>): Promise<T> {
  const run = (queues.get(tcti) ?? Promise.resolve()).then(work, work);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(tcti, tail);
  void tail.then(() => {
    if (queues.get(tcti) === tail) queues.delete(tcti);
  });
  return run;
}

export interface TpmKeyStore extends DeviceKeyStore {
  /**
   * Proves to the service that the key in `slot` lives in this TPM: certifies it with the
   * attestation key, sends the EK certificate and the AK through `askChallenge` (the
   * service's first round) and opens the credential it returns. The TPM is not held while
   * the service answers.
   */
  attestKey(deviceId: string, slot: KeySlot, askChallenge: (first: { readonly ekCertificate: string; readonly akPublic: string }) => Promise<TpmCredentialChallenge>): Promise<TpmKeyAttestation>;
}

export function createTpmKeyStore(options: TpmKeyStoreOptions): TpmKeyStore {
  const { runner, keyDir, tcti } = options;
  const tools: { readonly [K in keyof typeof TPM_TOOLS]: string } = { ...TPM_TOOLS, ...options.tools };
  const timeoutMs = options.timeoutMs ?? 20_000;
  const managed = hasResourceManager(tcti);

  async function tool(path: string, args: readonly string[]): Promise<CommandResult> {
    // The TCTI goes on the command line so the shared runner needs no TPM-specific env.
    const result = await runner.run({ argv: [path, `--tcti=${tcti}`, ...args], timeoutMs });
    if (result.error) throw new AgentError('KEYSTORE_UNAVAILABLE', `The TPM cannot be used: ${result.error.message}.`);
    if (result.exitCode !== 0) throw new TpmCommandFailed(path, tpmResponseCode(result.stderr), result.stderr);
    return result;
  }

  /** Runs `work` alone on the TPM with a private temp folder, then flushes and cleans up. */
  function withTpm<T>(work: (dir: string) => Promise<T>): Promise<T> {
    return serialise(tcti, async () => {
      for (let attempt = 0; ; attempt++) {
        let dir: string | undefined;
        try {
          dir = await mkdtemp(join(tmpdir(), 'dta-tpm-')); // 0700
          return await work(dir);
        } catch (e) {
          // Slots leaked by a process that died mid-operation: our flush below frees them.
          if (attempt === 0 && e instanceof TpmCommandFailed && e.rc === TPM_RC.OBJECT_MEMORY) continue;
          throw asAgentError(e);
        } finally {
          await flush();
          // A temp folder left behind must not cost the signature; PrivateTmp clears it.
          if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        }
      }
    });
  }

  /** Frees every transient object (none is ours between operations); nothing to do behind a resource manager. */
  async function flush(): Promise<void> {
    if (managed) return;
    try {
      await tool(tools.flushcontext, ['-t']);
    } catch {
      // The operation's own error (or result) says more; a TPM that cannot flush fails the next one.
    }
  }

  async function createPrimary(dir: string): Promise<string> {
    const ctx = join(dir, 'primary.ctx');
    await tool(tools.createprimary, [...PRIMARY_ARGS, '-c', ctx, '-Q']);
    return ctx;
  }

  /** Loads the wrapped key under a fresh primary; leaves it in `key.ctx`, with no object loaded. */
  async function loadKey(dir: string, key: WrappedKey): Promise<string> {
    const primary = await createPrimary(dir);
    const pub = join(dir, 'key.pub');
    const priv = join(dir, 'key.priv');
    const ctx = join(dir, 'key.ctx');
    await writeFile(pub, key.public, { mode: 0o600 });
    await writeFile(priv, key.private, { mode: 0o600 });
    try {
      await tool(tools.load, ['-C', primary, '-u', pub, '-r', priv, '-c', ctx, '-Q']);
    } catch (e) {
      // A changed storage seed (a cleared TPM, or another TPM) refuses the blobs as not its own; malformed or mismatched blobs are a damaged file.
      if (e instanceof TpmCommandFailed && e.rc !== null && KEY_LOST.has(e.rc)) throw new KeyLostError(SEED_CHANGED.has(e.rc) ? 'tpm-cleared' : 'key-damaged', KEY_LOST_MESSAGE, { cause: e });
      throw e;
    }
    // Primary and key are loaded now (2-3 of the TPM's slots); the saved context is enough.
    await flush();
    return ctx;
  }

  /**
   * `saved` is the loaded key's context as the TPM saved it (encrypted by the TPM, valid
   * until its next reset or clear): signing reloads it in one command instead of deriving
   * the primary and loading the blobs again. When the TPM refuses it, the full path runs.
   */
  function signer(key: WrappedKey, pem: string, saved: Buffer | null): DeviceSigner {
    const publicJwk = publicJwkFromPem(pem);
    let context = saved;
    return {
      algorithm: 'ES256',
      storage: 'hardware',
      publicJwk,
      thumbprint: jwkThumbprint(publicJwk),
      sign: (data) =>
        withTpm(async (dir) => {
          const digest = join(dir, 'digest.bin');
          const sig = join(dir, 'sig.der');
          await writeFile(digest, createHash('sha256').update(data).digest());
          const signWith = async (ctx: string): Promise<Uint8Array> => {
            await tool(tools.sign, ['-c', ctx, '-g', 'sha256', '-s', 'ecdsa', '-d', '-f', 'plain', '-o', sig, digest]);
            return joseSignatureFromDer(await readFile(sig));
          };
          if (context) {
            const ctx = join(dir, 'cached.ctx');
            await writeFile(ctx, context, { mode: 0o600 });
            try {
              return await signWith(ctx);
            } catch (e) {
              // Out of object memory: withTpm flushes and retries, and the context is still good.
              if (!(e instanceof TpmCommandFailed) || e.rc === TPM_RC.OBJECT_MEMORY) throw e;
              context = null; // TPM reset or cleared since: load the blobs again, which tells the two apart
              await flush();
            }
          }
          const ctx = await loadKey(dir, key);
          context = await readFile(ctx);
          return signWith(ctx);
        }),
    };
  }

  const session = (dir: string): TpmSession => ({
    dir,
    tool: async (name, args) => {
      await tool(tools[name], args);
    },
    flush,
  });

  const slotFile = (deviceId: string, slot: KeySlot): string => {
    if (!SAFE_ID.test(deviceId)) throw new AgentError('VALIDATION_FAILED', 'A device id for the TPM key store is letters, digits, - and _ only.');
    return `device-key-${deviceId}.${slot}.tpm.json`;
  };

  // Fails closed, like the key file store: blobs another account could swap would be loaded and signed with.
  const folder = openPrivateFolder(keyDir, { what: 'TPM key' });

  return {
    protection: 'hardware',
    kind: 'tpm',

    async create(deviceId, slot) {
      const file = slotFile(deviceId, slot);
      const made = await withTpm(async (dir) => {
        const primary = await createPrimary(dir);
        const pub = join(dir, 'key.pub');
        const priv = join(dir, 'key.priv');
        const pem = join(dir, 'key.pem');
        await tool(tools.create, ['-C', primary, ...KEY_ARGS, '-u', pub, '-r', priv, '-f', 'pem', '-o', pem, '-Q']);
        return { key: { public: await readFile(pub), private: await readFile(priv) }, pem: await readFile(pem, 'utf8') };
      });
      const result = signer(made.key, made.pem, null);
      await folder.write(file, serializeWrappedKey(made.key));
      return result;
    },

    async load(deviceId, slot) {
      const text = await folder.read(slotFile(deviceId, slot));
      if (text === null) return null;
      const key = parseWrappedKey(text);
      // Loading proves this TPM still holds the key; its public half comes from the TPM.
      const loaded = await withTpm(async (dir) => {
        const ctx = await loadKey(dir, key);
        const out = join(dir, 'key.pem');
        await tool(tools.readpublic, ['-c', ctx, '-f', 'pem', '-o', out, '-Q']);
        return { pem: await readFile(out, 'utf8'), context: await readFile(ctx) };
      });
      return signer(key, loaded.pem, loaded.context);
    },

    async remove(deviceId, slot) {
      await folder.remove(slotFile(deviceId, slot));
    },

    async promote(deviceId) {
      // Both blobs are in one file, so one rename replaces the current key atomically.
      if (!(await folder.rename(slotFile(deviceId, 'next'), slotFile(deviceId, 'current')))) throw new AgentError('KEY_MISSING', 'There is no new device key to switch to.');
    },

    async attestKey(deviceId, slot, askChallenge) {
      const text = await folder.read(slotFile(deviceId, slot));
      if (text === null) throw new AgentError('KEY_MISSING', 'There is no device key to attest.');
      const key = parseWrappedKey(text);
      const certification = await withTpm(async (dir) => {
        const ctx = await loadKey(dir, key);
        const parentPub = join(dir, 'primary.pub');
        await tool(tools.readpublic, ['-c', join(dir, 'primary.ctx'), '-o', parentPub, '-Q']);
        await flush();
        return certifyDeviceKey(session(dir), ctx, parentPub, join(dir, 'key.pub'));
      });
      const challenge = await askChallenge({ ekCertificate: certification.ekCertificate, akPublic: certification.akPublic });
      const secret = await withTpm((dir) => activateCredential(session(dir), challenge));
      return { ...certification, challenge: challenge.challenge, secret };
    },

    async assertWritable() {
      await folder.assertWritable();
      // And the TPM answers (flushing is harmless and needs no auth).
      await serialise(tcti, async () => {
        try {
          await tool(tools.flushcontext, ['-t']);
        } catch (e) {
          throw asAgentError(e);
        }
      });
    },
  };
}

/** A failed tool, or a temp folder that cannot be made or written (a full or read-only /tmp), in plain words. */
function asAgentError(e: unknown): AgentError {
  if (isAgentError(e)) return e;
  return new AgentError('KEYSTORE_UNAVAILABLE', `The TPM could not use the device key: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

function toolErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  // The tool's own "ERROR: " lines are plainer than the TSS library's "ERROR:esys:..." ones.
  return lines.find((l) => l.startsWith('ERROR: ')) ?? lines.at(-1) ?? 'no message';
}

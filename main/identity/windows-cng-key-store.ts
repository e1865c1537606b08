// The device key on Windows, as a CNG machine key of the system agent (SYSTEM):
//   - in the TPM through the Microsoft Platform Crypto Provider where the machine has one
//     (protection `hardware`: the private key is made in the TPM and never leaves it);
//   - else in the Microsoft Software Key Storage Provider, non-exportable, its DACL set at
//     creation to SYSTEM and Administrators only (protection `software`).
// One fixed PowerShell script (Windows PowerShell 5.1, .NET Framework's CngKey and ECDsaCng,
// present on every supported Windows) does each operation. It is passed as -EncodedCommand
// and is the same for every call: the key name, provider and digest go in as JSON on stdin,
// so nothing the agent is given ever becomes PowerShell code. The script prints one JSON reply
// that windows-cng-parse.ts reads. None of this has run on Windows here: see docs/key-protection.md.
import { createHash } from 'node:crypto';
import { AgentError } from '../../common/errors.js';
import type { CommandRequest, CommandRunner } from '../posture/command-runner.js';
import { encodeCommand } from '../posture/powershell-batch.js';
import type { DeviceKeyStore } from './key-store.js';
import type { KeyStoreLog, NativeKeyBackend } from './native-key-store.js';
import { createNativeKeyStore } from './native-key-store.js';
import { createProbedKeyStore, HardwareAbsentError } from './probed-key-store.js';
import type { CngReply } from './windows-cng-parse.js';
import { classifyCngFailure, describeCngFailure, joseSignatureFromCng, jwkFromEccPublicBlob, parseCngReply } from './windows-cng-parse.js';

/** The two CNG key storage providers the agent uses, by their registered names (ncrypt.h MS_PLATFORM_CRYPTO_PROVIDER, MS_KEY_STORAGE_PROVIDER). */
export const CNG_PROVIDERS = {
  platform: 'Microsoft Platform Crypto Provider',
  software: 'Microsoft Software Key Storage Provider',
} as const;
export type CngProviderName = keyof typeof CNG_PROVIDERS;

/** SYSTEM and the Administrators group only, inheritance blocked: the software key's DACL. */
export const SOFTWARE_KEY_SDDL = 'D:P(A;;GA;;;SY)(A;;GA;;;BA)';

// NCRYPT_SECURITY_DESCR_PROPERTY is set with DACL_SECURITY_INFORMATION (4) as its flags;
// CngPropertyOptions has no member for it, so the value is made with Enum.ToObject.
export const CNG_KEY_SCRIPT = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Send-Reply([hashtable]$reply) { [Console]::Out.Write((ConvertTo-Json -InputObject $reply -Compress)) }
try {
  $request = [Console]::In.ReadToEnd() | ConvertFrom-Json
  $provider = [System.Security.Cryptography.CngProvider]::new([string]$request.provider)
  $machine = [System.Security.Cryptography.CngKeyOpenOptions]::MachineKey
  $name = [string]$request.name
  switch ([string]$request.op) {
    'probe' {
      [void][System.Security.Cryptography.CngKey]::Exists('DeviceTrust-probe', $provider, $machine)
      Send-Reply @{ ok = $true }
    }
    'create' {
      $parameters = [System.Security.Cryptography.CngKeyCreationParameters]::new()
      $parameters.Provider = $provider
      $parameters.KeyCreationOptions = [System.Security.Cryptography.CngKeyCreationOptions]::MachineKey
      $parameters.ExportPolicy = [System.Security.Cryptography.CngExportPolicies]::None
      $parameters.KeyUsage = [System.Security.Cryptography.CngKeyUsages]::Signing
      if ($request.restrictAcl -eq $true) {
        $descriptor = [System.Security.AccessControl.RawSecurityDescriptor]::new('${SOFTWARE_KEY_SDDL}')
        $bytes = [byte[]]::new($descriptor.BinaryLength)
        $descriptor.GetBinaryForm($bytes, 0)
        $dacl = [System.Enum]::ToObject([System.Security.Cryptography.CngPropertyOptions], 4)
        $parameters.Parameters.Add([System.Security.Cryptography.CngProperty]::new('Security Descr', $bytes, $dacl))
      }
      $key = [System.Security.Cryptography.CngKey]::Create([System.Security.Cryptography.CngAlgorithm]::ECDsaP256, $name, $parameters)
      try { Send-Reply @{ ok = $true; publicBlob = [Convert]::ToBase64String($key.Export([System.Security.Cryptography.CngKeyBlobFormat]::EccPublicBlob)) } } finally { $key.Dispose() }
    }
    'public' {
      if (-not [System.Security.Cryptography.CngKey]::Exists($name, $provider, $machine)) { Send-Reply @{ ok = $true; exists = $false }; break }
      $key = [System.Security.Cryptography.CngKey]::Open($name, $provider, $machine)
      try { Send-Reply @{ ok = $true; exists = $true; publicBlob = [Convert]::ToBase64String($key.Export([System.Security.Cryptography.CngKeyBlobFormat]::EccPublicBlob)) } } finally { $key.Dispose() }
    }
    'sign' {
      $key = [System.Security.Cryptography.CngKey]::Open($name, $provider, $machine)
      try {
        $ecdsa = [System.Security.Cryptography.ECDsaCng]::new($key)
        Send-Reply @{ ok = $true; signature = [Convert]::ToBase64String($ecdsa.SignHash([Convert]::FromBase64String([string]$request.digest))) }
      } finally { $key.Dispose() }
    }
    'delete' {
      if ([System.Security.Cryptography.CngKey]::Exists($name, $provider, $machine)) { [System.Security.Cryptography.CngKey]::Open($name, $provider, $machine).Delete() }
      Send-Reply @{ ok = $true }
    }
    default { throw 'Unknown operation.' }
  }
} catch {
  $failure = $_.Exception
  while ($null -ne $failure.InnerException -and $failure -isnot [System.Security.Cryptography.CryptographicException]) { $failure = $failure.InnerException }
  Send-Reply @{ ok = $false; hresult = $failure.HResult; message = ($failure.Message -replace '[\\r\\n]+', ' ') }
  exit 1
}
`;

export type CngOperation = 'probe' | 'create' | 'public' | 'sign' | 'delete';

export interface CngRequest {
  readonly op: CngOperation;
  readonly provider: CngProviderName;
  /** A key name from nativeKeyName; absent for probe. */
  readonly name?: string;
  /** SHA-256 of the data to sign. */
  readonly digest?: Uint8Array;
}

const KEY_NAME = /^DeviceTrust-[A-Za-z0-9_-]{1,200}$/;

/** The exact process to start: the argv never changes; the request is the JSON on stdin. */
export function cngKeyCommand(powershellPath: string, request: CngRequest, timeoutMs: number): CommandRequest {
  if (request.name !== undefined && !KEY_NAME.test(request.name)) throw new AgentError('VALIDATION_FAILED', `Not a device key name: ${JSON.stringify(request.name.slice(0, 80))}`);
  if (request.digest !== undefined && request.digest.length !== 32) throw new AgentError('VALIDATION_FAILED', 'A digest to sign is 32 bytes (SHA-256).');
  const stdin = JSON.stringify({
    op: request.op,
    provider: CNG_PROVIDERS[request.provider],
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(request.op === 'create' && request.provider === 'software' ? { restrictAcl: true } : {}),
    ...(request.digest !== undefined ? { digest: Buffer.from(request.digest).toString('base64') } : {}),
  });
  return {
    argv: [powershellPath, '-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encodeCommand(CNG_KEY_SCRIPT)],
    stdin,
    timeoutMs,
    maxOutputBytes: 64 * 1024,
  };
}

export interface CngBackendOptions {
  /** Must allow `powershellPath`. */
  readonly runner: CommandRunner;
  /** %SystemRoot%\System32\WindowsPowerShell\v1.0\powershell.exe (powershellPath()). */
  readonly powershellPath: string;
  readonly provider: CngProviderName;
  /** Deadline per run: PowerShell's start plus a TPM key generation, which can take seconds. */
  readonly timeoutMs?: number;
}

export function createCngKeyBackend(options: CngBackendOptions): NativeKeyBackend {
  const { runner, powershellPath, provider } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const where = provider === 'platform' ? 'the TPM (Microsoft Platform Crypto Provider)' : 'the Microsoft Software Key Storage Provider';

  async function run(request: Omit<CngRequest, 'provider'>): Promise<CngReply> {
    const result = await runner.run(cngKeyCommand(powershellPath, { ...request, provider }, timeoutMs));
    if (result.error) throw new AgentError('KEYSTORE_UNAVAILABLE', `The device key in ${where} cannot be used: ${result.error.message}.`);
    if (result.truncated) throw new AgentError('VALIDATION_FAILED', 'The CNG key script printed more than a reply.');
    const reply = parseCngReply(result.stdout);
    if (reply.ok && result.exitCode !== 0) throw new AgentError('VALIDATION_FAILED', `The CNG key script reported success but exited with ${String(result.exitCode)}.`);
    return reply;
  }

  function failure(reply: { hresult: number; message: string }, doing: string): AgentError {
    const why = describeCngFailure(reply);
    switch (classifyCngFailure(reply.hresult)) {
      case 'provider-absent':
        return new HardwareAbsentError(`${where} cannot ${doing} on this machine: ${why}.`);
      case 'key-missing':
        return new AgentError('KEY_MISSING', `${where} no longer holds the device key (${why}); the device needs a new key, approved by IT.`);
      default:
        return new AgentError('KEYSTORE_UNAVAILABLE', `${where} could not ${doing}: ${why}.`);
    }
  }

  return {
    protection: provider === 'platform' ? 'hardware' : 'software',
    kind: provider === 'platform' ? 'cng-platform' : 'cng-software',

    async create(name) {
      const reply = await run({ op: 'create', name });
      if (!reply.ok) throw failure(reply, 'make a device key');
      if (!reply.publicBlob) throw new AgentError('VALIDATION_FAILED', 'The CNG key script made a key but returned no public key.');
      return { ref: name, publicJwk: jwkFromEccPublicBlob(reply.publicBlob) };
    },

    async publicKey(ref) {
      const reply = await run({ op: 'public', name: ref });
      if (!reply.ok) {
        if (classifyCngFailure(reply.hresult) === 'key-missing') return null;
        throw failure(reply, 'open the device key');
      }
      if (reply.exists === false) return null;
      if (reply.exists !== true || !reply.publicBlob) throw new AgentError('VALIDATION_FAILED', 'The CNG key script returned no public key for an existing key.');
      return jwkFromEccPublicBlob(reply.publicBlob);
    },

    async sign(ref, data) {
      const reply = await run({ op: 'sign', name: ref, digest: createHash('sha256').update(data).digest() });
      if (!reply.ok) throw failure(reply, 'sign with the device key');
      return joseSignatureFromCng(reply.signature);
    },

    async remove(ref) {
      const reply = await run({ op: 'delete', name: ref });
      if (!reply.ok && classifyCngFailure(reply.hresult) !== 'key-missing') throw failure(reply, 'delete a device key');
    },

    async ready() {
      const reply = await run({ op: 'probe' });
      if (!reply.ok) throw failure(reply, 'be opened');
    },
  };
}

export interface WindowsKeyStoreOptions {
  readonly runner: CommandRunner;
  readonly powershellPath: string;
  /** The agent's key folder under %ProgramData%, closed to all but SYSTEM and Administrators by the installer. */
  readonly keyDir: string;
  /** keyStorage "tpm": the Platform Crypto Provider or nothing. */
  readonly hardwareRequired?: boolean;
  readonly log?: KeyStoreLog;
  readonly timeoutMs?: number;
}

/** The Platform Crypto Provider where this machine has one, else the software provider, with the reason logged. */
export function createWindowsKeyStore(options: WindowsKeyStoreOptions): DeviceKeyStore {
  const backend = (provider: CngProviderName): NativeKeyBackend =>
    createCngKeyBackend({ runner: options.runner, powershellPath: options.powershellPath, provider, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
  const log = options.log ? { log: options.log } : {};
  const platform = backend('platform');
  return createProbedKeyStore({
    keyDir: options.keyDir,
    hardware: createNativeKeyStore({ backend: platform, keyDir: options.keyDir, ...log }),
    software: createNativeKeyStore({ backend: backend('software'), keyDir: options.keyDir, ...log }),
    probe: () => platform.ready(),
    ...(options.hardwareRequired ? { hardwareRequired: true } : {}),
    ...log,
  });
}

// Composition root of the headless agent: `dta <command> [options]`.
import { parseArgs } from 'node:util';
import { AgentError, isAgentError } from '../../common/errors.js';
import { agentCommand, statusCommand, tokenCommand } from './agent-command.js';
import { ProofWithheld } from './local-enforcement.js';
import { postureCommand } from './posture-command.js';
import { browserPoliciesCommand } from './browser-policies-command.js';

const USAGE = `Usage: dta <command> [options]

Commands:
  posture            Check this device's posture and print a table.
    --json           Print the posture report as JSON.
    --bundle FILE    Also write a support bundle (every probe's raw output) to FILE.
    --replay FILE    Judge a support bundle again without running anything.

  agent --config FILE [--ipc PATH] [--json]
                       Run the machine's agent (as a service: systemd unit, LaunchDaemon,
                       Windows service): enrol, attest, keep a token, serve the trays
                       (local IPC) and the loopback token endpoint. --json prints state
                       changes as JSON.
  status [--config FILE | --ipc PATH] [--json]
                       Ask the machine's agent for its state (any local account).
                       --config reads only the file's ipcPath; an account that may
                       not read the file asks the default place (and says so).
                       Exit 0 when the device may open patient data, 1 when not.
  token --config FILE --audience X [--nonce N] [--htm GET --htu URL [--dpop-nonce N]]
                       Print a fresh device token (and a proof for one request).
                       --dpop-nonce puts the access service's DPoP-Nonce in the
                       proof, for the retry after it answered use_dpop_nonce.
  inventory [--json]   Print the device inventory the agent sends to the service
                       (maker, model, serial, OS build, MAC addresses); parts that
                       could not be read in time are listed under "missing".
  browser-policies --config FILE --out DIR [--loopback-only]
                       Write Chrome's and Edge's Local Network Access policies for the
                       managed allowedOrigins (docs/deploy/browsers.md).

Exit codes: 0 the device passes, 1 it does not, 2 the command failed.
`;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'posture': {
        const { values } = parseArgs({ args: [...rest], options: { json: { type: 'boolean', default: false }, bundle: { type: 'string' }, replay: { type: 'string' } }, strict: true });
        return await postureCommand(
          { json: values.json ?? false, ...(values.bundle !== undefined ? { bundlePath: values.bundle } : {}), ...(values.replay !== undefined ? { replayPath: values.replay } : {}) },
          { out: io.out, color: process.stdout.isTTY },
        );
      }
      case 'agent': {
        const stop = new AbortController();
        process.once('SIGTERM', () => stop.abort());
        process.once('SIGINT', () => stop.abort());
        const keepAlive = setInterval(() => undefined, 60_000);
        try {
          return await agentCommand(rest, io, stop.signal);
        } finally {
          clearInterval(keepAlive);
        }
      }
      case 'token':
        return await tokenCommand(rest, io);
      case 'status':
        return await statusCommand(rest, io);
      case 'inventory': {
        // Loaded only for this command: its collector reads the machine through
        // systeminformation (23 modules, ~0.7 MiB of heap once evaluated), and the collector
        // runs as a process of its own (`inventory --collector`), so the agent's long-running
        // process never needs it. The executable is one bundle: the module is in it, only
        // evaluated here.
        const { inventoryCommand } = await import('../inventory/inventory-command.js');
        return await inventoryCommand(rest, io.out);
      }
      case 'browser-policies':
        return await browserPoliciesCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new AgentError('USAGE', `Unknown command "${command}".`);
    }
  } catch (e) {
    if (isAgentError(e)) {
      io.err(`dta: ${e.code}: ${e.message}\n`);
      if (e.code === 'USAGE') io.err(USAGE);
    } else if (e instanceof ProofWithheld) {
      io.err(`dta: ${e.code}: ${e.message}\n`);
      return 1;
    } else if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`dta: USAGE: ${e.message}\n${USAGE}`);
    } else {
      io.err(`dta: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    return 2;
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  process.exitCode = await main(process.argv.slice(2));
}

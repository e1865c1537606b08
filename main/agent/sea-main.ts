// The entry of `dta-agent`, the agent as a Node.js single executable (scripts/build-agent.ts,
// docs/system-agent.md). It runs as root / SYSTEM, so it runs no code it was not built with.
// A Node.js 20 single executable still reads NODE_OPTIONS (only Node.js 25's
// `execArgvExtension` can turn that off), and a `--require` / `--import` there has run
// before this file: such a process refuses to go on, so the device key is never used by a
// runtime that someone else's code may have changed.
// First: the V8 settings must be in place before the agent's modules allocate or compile.
import './young-generation.js';
import './wasm-baseline-compiler.js';
import { AgentError } from '../../common/errors.js';
import { main } from './cli.js';
import { AGENT_VERSION } from './version.js';

/** A refusal when Node.js options reached this process, or null. */
function foreignOptions(env: NodeJS.ProcessEnv, execArgv: readonly string[]): AgentError | null {
  const options = env.NODE_OPTIONS ?? '';
  if (options.trim() !== '') return new AgentError('CONFIG_INVALID', `NODE_OPTIONS is set ("${options}"); dta-agent takes no options or code from the environment. Remove NODE_OPTIONS from the service's environment.`);
  if (execArgv.length > 0) return new AgentError('CONFIG_INVALID', `dta-agent was started with Node.js options (${execArgv.join(' ')}); it takes none.`);
  return null;
}

function run(argv: readonly string[]): void {
  const refusal = foreignOptions(process.env, process.execArgv);
  if (refusal !== null) {
    process.stderr.write(`dta-agent: ${refusal.code}: ${refusal.message}\n`);
    process.exitCode = 2;
    return;
  }
  // The executable's own version, as installers and IT ask any program for it.
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return;
  }
  void main(argv).then((code) => {
    process.exitCode = code;
  });
}

run(process.argv.slice(2));

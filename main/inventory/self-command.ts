// How the agent starts itself again with other arguments (the inventory collector): the single
// executable is its own program; under Node.js it is Node.js with the same options and script.
/** The argv prefix that runs this agent's CLI, from the running process. */
export function selfCommand(execPath: string, execArgv: readonly string[], argv: readonly string[]): readonly string[] {
  const script = argv[1];
  // A Node.js single executable gives its own path as argv[1] (and refuses any execArgv).
  if (script === undefined || script === execPath) return [execPath];
  return [execPath, ...execArgv, script];
}

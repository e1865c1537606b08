// `dta inventory`: prints the device inventory that the agent sends to the service, collected the
// way the agent collects it (a collector process under the probes' time limit). With --collector
// this process is that collector (the agent starts it; not meant to be typed).
import { parseArgs } from 'node:util';
import { AgentError } from '../../common/errors.js';
import { defaultPosturePolicy } from '../../common/posture.js';
import { createCommandRunner } from '../posture/command-runner.js';
import { collectInventory } from './collect-inventory.js';
import { runCollector } from './collector.js';
import { selfCommand } from './self-command.js';

export async function inventoryCommand(argv: readonly string[], out: (text: string) => void): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { collector: { type: 'boolean', default: false }, 'deadline-ms': { type: 'string' }, 'parent-pid': { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const deadlineText = values['deadline-ms'] ?? String(defaultPosturePolicy().checkDeadlineMs);
  const deadlineMs = Number(deadlineText);
  if (!/^[0-9]{3,5}$/.test(deadlineText) || deadlineMs < 100 || deadlineMs > 60_000) throw new AgentError('USAGE', `--deadline-ms takes 100 to 60000 milliseconds, not "${deadlineText}".`);
  if (values.collector === true) {
    // The agent that started this process may end first (stopped, restarted): then nobody reads
    // the answer, so this process ends too instead of running on as an orphan. The agent names
    // itself: by the time this process reads its parent, an agent that ended has none.
    const parentText = values['parent-pid'];
    if (parentText !== undefined && !/^[1-9][0-9]{0,9}$/.test(parentText)) throw new AgentError('USAGE', `--parent-pid takes a process id, not "${parentText}".`);
    const parent = parentText === undefined ? process.ppid : Number(parentText);
    const orphaned = (): boolean => process.ppid !== parent;
    if (orphaned()) process.exit(0);
    setInterval(() => {
      if (orphaned()) process.exit(0);
    }, 250).unref();
    await runCollector(deadlineMs, (line) => new Promise((resolve) => void process.stdout.write(line, () => resolve())));
    // A command systeminformation started may still hang (that is why this is a process of its
    // own): every part is reported, so this process ends without waiting for it.
    process.exit(0);
  }
  const command = selfCommand(process.execPath, process.execArgv, process.argv);
  const inventory = await collectInventory({ runner: createCommandRunner({ allowList: new Set([command[0] ?? process.execPath]) }), command, deadlineMs, now: () => new Date() });
  out(`${JSON.stringify(inventory, null, values.json === true ? undefined : 2)}\n`);
  return 0;
}

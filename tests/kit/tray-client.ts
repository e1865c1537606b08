// A person's tray without Electron: the tray's Node-side link to the machine's agent, run as
// an ordinary account. Prints every status it sees as a JSON line for `seconds`, then exits;
// with a third argument it exits early once the agent shows that state.
// Usage: tray-client.ts <ipc-path> <seconds> [until-state]
import { linkToAgent } from '../../main/agent/ipc-client.js';

const [path = '', seconds = '10', untilState] = process.argv.slice(2);
const link = linkToAgent({ path, locale: 'en', retry: { initialMs: 200, maxMs: 1000 } });
const print = (): void => {
  const s = link.status();
  process.stdout.write(`${JSON.stringify({ at: Date.now(), link: link.linkState(), state: s.agent.state, tier: s.agent.tier, deviceId: s.agent.deviceId, keyProtection: s.keyProtection })}\n`);
};
const stop = setTimeout(() => {
  print();
  link.close();
}, Number(seconds) * 1000);
link.subscribe(() => {
  print();
  if (untilState !== undefined && link.status().agent.state === untilState) {
    clearTimeout(stop);
    link.close();
  }
});

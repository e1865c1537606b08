// The agent's way to the device trust service from everything that may name one: IT's proxy
// and PAC file, the environment, the operating system's PAC file and proxy. A PAC file is
// fetched and run only when every source before it gave nothing (chooseProxyRoute keeps the
// order), so IT's named proxy never waits on a script.
import type { PacDecider } from './pac-decision.js';
import type { ProxyChoice, ProxyInputs } from './proxy-route.js';
import { chooseProxyRoute, environmentNamesProxy, proxyUrl } from './proxy-route.js';
import type { SystemProxy } from './system-proxy.js';

export interface NetworkRouteInputs {
  /** IT's managed `proxy`, or null. */
  readonly managedProxy: string | null;
  /** IT's managed `proxyAutoConfigUrl`, or null. */
  readonly managedPacUrl: string | null;
  readonly env: ProxyInputs['env'];
  readonly system: SystemProxy;
  /** The device trust service's URL, which the PAC script is asked about; null before the agent has one. */
  readonly serviceUrl: string | null;
}

export async function decideNetworkRoute(inputs: NetworkRouteInputs, pac: PacDecider): Promise<ProxyChoice> {
  const managedNamesProxy = inputs.managedProxy !== null && proxyUrl(inputs.managedProxy).ok;
  const notYet: string[] = [];
  const decide = async (pacUrl: string | null): Promise<Awaited<ReturnType<PacDecider['decide']>> | null> => {
    if (pacUrl === null) return null;
    if (inputs.serviceUrl === null) {
      notYet.push('A PAC file is set, but the agent has no service URL yet to ask it about; it is asked once the agent has its configuration.');
      return null;
    }
    return pac.decide(pacUrl, inputs.serviceUrl);
  };
  const managedPac = managedNamesProxy ? null : await decide(inputs.managedPacUrl);
  const systemPac = managedNamesProxy || managedPac?.entry || environmentNamesProxy(inputs.env) ? null : await decide(inputs.system.pacUrl);
  const choice = chooseProxyRoute({ managed: inputs.managedProxy, env: inputs.env, winhttp: inputs.system.winhttp, macos: inputs.system.macos, managedPac, systemPac });
  return notYet.length > 0 ? { ...choice, problems: [...choice.problems, ...new Set(notYet)] } : choice;
}

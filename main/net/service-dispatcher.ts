// The HTTP dispatcher (undici) the agent reaches the device trust service with: direct, or
// through the proxy its route names. The agent uses undici's own fetch with it, so the
// dispatcher and the fetch are of one version. undici is loaded only when the first one is
// made: `dta status`, which every tray and support session runs, never needs it.
import type { Dispatcher } from 'undici';
import type { ProxyRoute } from './proxy-route.js';
import { DIRECT_ROUTE } from './proxy-route.js';

// Which route each dispatcher was made for, so a failure can name the hop that failed.
const routes = new WeakMap<Dispatcher, ProxyRoute>();

export async function createServiceDispatcher(route: ProxyRoute): Promise<Dispatcher> {
  const { Agent, EnvHttpProxyAgent } = await import('undici');
  const dispatcher =
    route.httpProxy === null && route.httpsProxy === null
      ? new Agent()
      : // Every value given, '' for none: EnvHttpProxyAgent would otherwise read the environment
        // itself, and the environment must not override what IT set.
        new EnvHttpProxyAgent({ httpProxy: route.httpProxy ?? '', httpsProxy: route.httpsProxy ?? '', noProxy: route.noProxy });
  routes.set(dispatcher, route);
  return dispatcher;
}

/** The route a dispatcher was made for; direct for any other dispatcher. */
export function routeOf(dispatcher: Dispatcher): ProxyRoute {
  return routes.get(dispatcher) ?? DIRECT_ROUTE;
}

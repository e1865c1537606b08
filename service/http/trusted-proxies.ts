// The proxies (a TLS terminator, a load balancer) whose X-Forwarded-For the service believes:
// addresses or CIDR ranges IT lists in the configuration, none by default. Behind a proxy
// every request arrives from the proxy's address; without this, every per-client limit would
// be one budget shared by every client.
import { isIP } from 'node:net';
import { ServiceError } from '../errors.js';

/** The entries as Fastify takes them, or BAD_REQUEST naming the first that is not an address or a CIDR range. */
export function parseTrustedProxies(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const prefixOk = prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (family === 0 || !prefixOk || rest.length > 0) throw new ServiceError('BAD_REQUEST', `trustProxy: "${entry.slice(0, 80)}" is not an IP address or a CIDR range (such as 10.0.0.0/8 or 2001:db8::/32).`);
    return entry;
  });
}

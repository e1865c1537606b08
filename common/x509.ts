// @peculiar/x509 needs reflect-metadata loaded first (for tsyringe); every module imports
// x509 from here so the order is guaranteed. WebCrypto is the global `crypto` in Node 20
// and browsers alike, so this module stays free of Node built-ins.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

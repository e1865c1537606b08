// @peculiar/x509 needs reflect-metadata loaded first (for tsyringe); every module of ours
// imports x509 from here so the order is guaranteed.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };

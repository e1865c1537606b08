#!/usr/bin/env node
// `npx dta-authz ...`: runs the reverse-proxy check's TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

register();
const here = dirname(fileURLToPath(import.meta.url));
const { main } = await import(pathToFileURL(join(here, '..', 'service', 'authz', 'cli.ts')).href);
process.exitCode = await main(process.argv.slice(2));

// electron-builder hook (beforeBuild). The tray's main process is bundled by
// scripts/build-tray.ts into out/tray/main.js with every npm package it uses, so the app needs
// no node_modules. Resolving to false tells electron-builder that node_modules are handled
// outside it: it neither rebuilds nor copies the project's production dependencies, which are
// the service's (Fastify, pg, Kysely, better-sqlite3, pino) and have no place on a workstation
// (issue 21; tests/build/tray-dependencies.test.ts checks the packed app).
module.exports = async function beforeBuild() {
  return false;
};

// The update path end to end without Electron: the controller that main/shell/updater.ts
// wires to electron-updater, with a real installer file on disk, the real file log IT reads
// (agent.log) and a port that records what electron-updater would have been asked to do.
// Installs that must not update themselves never check, download or install; an unattended
// install restarts the agent; every refused update is in the log with its reason.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFileLog } from '../../../main/agent/agent-log.js';
import type { SignatureVerdict } from '../../../main/update/authenticode.js';
import type { FeedRequest } from '../../../main/update/update-channel.js';
import type { UpdateControllerDeps } from '../../../main/update/update-controller.js';
import { createUpdateController } from '../../../main/update/update-controller.js';
import { parseUpdateFeed } from '../../../main/update/update-feed.js';
import type { InstallType, UpdateSettings } from '../../../main/update/update-policy.js';
import { FIXTURES } from '../../kit/probe-records.js';

const feed = parseUpdateFeed(readFileSync(join(FIXTURES, 'update', 'latest.yml'), 'utf8'));
const FILE = feed.files[0]?.url ?? '';

interface Recorded {
  feeds: FeedRequest[];
  checks: number;
  downloads: number;
  installs: [boolean, boolean][];
}

interface Setup {
  readonly installType?: InstallType;
  readonly hour?: number;
  readonly idle?: number;
  readonly settings?: Partial<UpdateSettings>;
  readonly verdict?: SignatureVerdict | null;
  readonly payload?: string;
}

/** A controller over a temp folder holding the downloaded installer and agent.log; removed by `done`. */
function harness(setup: Setup = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dta-update-controller-'));
  const installer = join(dir, FILE);
  writeFileSync(installer, setup.payload ?? 'installer-v2');
  const recorded: Recorded = { feeds: [], checks: 0, downloads: 0, installs: [] };
  const verified: string[] = [];
  const verdict = setup.verdict === undefined ? ({ ok: true, signer: 'CN=Device Trust Project', thumbprint: 'AB' } as const) : setup.verdict;
  const deps: UpdateControllerDeps = {
    installType: setup.installType ?? 'nsis',
    currentVersion: '0.1.0',
    deviceId: () => 'device-1',
    settings: () => ({ mode: 'automatic', channel: 'stable', pinnedVersion: null, hold: false, ...setup.settings }),
    feedUrl: () => 'https://updates.hospital.example/dta',
    idleSeconds: () => setup.idle ?? 0,
    localHour: () => setup.hour ?? 10,
    readFile: (path) => readFile(path),
    verifySignature:
      verdict === null
        ? null
        : (file) => {
            verified.push(file);
            return Promise.resolve(verdict);
          },
    port: {
      useFeed: (request) => void recorded.feeds.push(request),
      checkForUpdates: () => {
        recorded.checks++;
        return Promise.resolve(null);
      },
      downloadUpdate: () => {
        recorded.downloads++;
        return Promise.resolve([]);
      },
      quitAndInstall: (silent, runAfter) => void recorded.installs.push([silent, runAfter]),
    },
    log: createFileLog(join(dir, 'logs')),
  };
  const controller = createUpdateController(deps);
  const lines = (): Record<string, unknown>[] =>
    readFileSync(join(dir, 'logs', 'agent.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const downloaded = { version: feed.version, downloadedFile: installer, files: feed.files };
  return { controller, recorded, verified, lines, downloaded, installer, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('an unattended install in the quiet hours is silent and starts the agent again; once only', async () => {
  const h = harness({ hour: 3, idle: 3600 });
  try {
    await h.controller.check();
    assert.deepEqual(h.recorded.feeds, [{ channel: 'latest', url: 'https://updates.hospital.example/dta' }]);
    h.controller.onUpdateAvailable({ version: feed.version });
    assert.equal(h.recorded.downloads, 1);
    await h.controller.onUpdateDownloaded(h.downloaded);
    assert.deepEqual(h.verified, [h.installer], 'our signature decision ran on the downloaded file');
    assert.deepEqual(h.recorded.installs, [[true, true]], 'quitAndInstall(isSilent, isForceRunAfter)');
    h.controller.onBeforeQuit();
    h.controller.tick();
    assert.equal(h.recorded.installs.length, 1, 'the quit that the install causes does not install again');
    assert.ok(h.lines().some((l) => l.event === 'update-install' && l.restartAfter === true));
  } finally {
    h.done();
  }
});

test('an install when the agent quits is silent and leaves it ended; mid-shift nothing is installed', async () => {
  const h = harness();
  try {
    h.controller.onUpdateAvailable({ version: feed.version });
    await h.controller.onUpdateDownloaded(h.downloaded);
    h.controller.tick();
    assert.deepEqual(h.recorded.installs, [], 'in use at 10:00: waits');
    h.controller.onBeforeQuit();
    assert.deepEqual(h.recorded.installs, [[true, false]]);
  } finally {
    h.done();
  }
});

test('a refused signature is never installed, on quit or in the quiet hours, and its reason is in agent.log', async () => {
  const reason = 'Windows reports the update\'s signature as HashMismatch. The update is refused and the running version stays.';
  const h = harness({ hour: 3, idle: 3600, verdict: { ok: false, code: 'SIGNATURE_NOT_VALID', reason } });
  try {
    h.controller.onUpdateAvailable({ version: feed.version });
    await h.controller.onUpdateDownloaded(h.downloaded);
    h.controller.tick();
    h.controller.onBeforeQuit();
    assert.deepEqual(h.recorded.installs, []);
    assert.ok(h.lines().some((l) => l.event === 'update-refused' && l.code === 'SIGNATURE_NOT_VALID' && l.reason === reason && l.kept === '0.1.0'));
    assert.equal(await h.controller.verifyCodeSignature(h.installer), reason, 'electron-updater\'s hook refuses too (it then deletes the file)');
  } finally {
    h.done();
  }
});

test('a Windows installer with no signature check available is refused', async () => {
  const h = harness({ hour: 3, idle: 3600, verdict: null });
  try {
    h.controller.onUpdateAvailable({ version: feed.version });
    await h.controller.onUpdateDownloaded(h.downloaded);
    assert.deepEqual(h.recorded.installs, []);
    assert.ok(h.lines().some((l) => l.event === 'update-refused' && l.code === 'SIGNATURE_CHECK_UNAVAILABLE'));
    assert.match(String(await h.controller.verifyCodeSignature(h.installer)), /No signature check is available/);
  } finally {
    h.done();
  }
});

test('a downloaded file that does not match the feed is refused before any signature check', async () => {
  const h = harness({ hour: 3, idle: 3600, payload: 'installer-v3' });
  try {
    h.controller.onUpdateAvailable({ version: feed.version });
    await h.controller.onUpdateDownloaded(h.downloaded);
    assert.deepEqual(h.recorded.installs, []);
    assert.deepEqual(h.verified, []);
    assert.ok(h.lines().some((l) => l.event === 'update-refused' && l.code === 'DOWNLOAD_MISMATCH' && /does not match its checksum/.test(String(l.reason))));
  } finally {
    h.done();
  }
});

test('deb, rpm, per-machine NSIS, MSI and pkg never look for, download or install an update, and the log says why', async () => {
  for (const installType of ['deb', 'rpm', 'nsis-machine', 'msi', 'pkg'] as const) {
    const h = harness({ installType, hour: 3, idle: 3600 });
    try {
      await h.controller.check();
      // Even if electron-updater reported an update (it never is asked), nothing starts.
      h.controller.onUpdateAvailable({ version: feed.version });
      await h.controller.onUpdateDownloaded(h.downloaded);
      h.controller.tick();
      h.controller.onBeforeQuit();
      assert.deepEqual([h.recorded.feeds.length, h.recorded.checks, h.recorded.downloads, h.recorded.installs.length], [0, 0, 0, 0], installType);
      const skipped = h.lines().find((l) => l.event === 'update-check-skipped');
      assert.equal(skipped?.installType, installType);
      assert.match(String(skipped?.reason), installType === 'deb' || installType === 'rpm' ? /package manager from IT's signed repository, never by the agent/ : installType === 'nsis-machine' ? /needs administrator rights.*MSI through the MDM/ : /updated by the MDM that deployed it/, installType);
    } finally {
      h.done();
    }
  }
});

test('the beta setting reads the beta feed; a failed check is logged', async () => {
  const h = harness({ settings: { channel: 'beta' } });
  try {
    await h.controller.check();
    assert.deepEqual(h.recorded.feeds, [{ channel: 'beta', url: 'https://updates.hospital.example/dta' }]);
    h.controller.onError(new Error('net::ERR_PROXY_CONNECTION_FAILED'));
    assert.ok(h.lines().some((l) => l.event === 'update-failed' && l.message === 'net::ERR_PROXY_CONNECTION_FAILED'));
  } finally {
    h.done();
  }
});

// The tray's logic without Electron: the IPC guard (main's side of the contract), the
// tray model, the notification policy, the settings links and the icons.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AGENT_STATES } from '../../../common/agent-state.js';
import { IPC_CHANNELS, REMEDIATION_ACTIONS } from '../../../common/ipc.js';
import { guardIpc } from '../../../main/ui/ipc-guard.js';
import { createNotificationPolicy } from '../../../main/ui/notification-policy.js';
import { settingsLink } from '../../../main/ui/settings-links.js';
import { TRAY_ICONS, trayModel } from '../../../main/ui/tray-model.js';
import { statusView } from '../../kit/status-views.js';

const WINDOW = 'file:///opt/Device%20Trust/resources/out/renderer/index.html';
const window = { url: WINDOW, isMainFrame: true };

test('IPC guard: the status window\'s top frame may call each channel with a valid payload', () => {
  assert.deepEqual(guardIpc(IPC_CHANNELS.getView, undefined, window, WINDOW), { ok: true, request: { channel: IPC_CHANNELS.getView } });
  assert.deepEqual(guardIpc(IPC_CHANNELS.runRemediation, { action: 'open-firewall-settings' }, window, WINDOW), { ok: true, request: { channel: IPC_CHANNELS.runRemediation, action: 'open-firewall-settings' } });
  assert.equal(guardIpc(IPC_CHANNELS.checkNow, undefined, { url: `${WINDOW}#top`, isMainFrame: true }, WINDOW).ok, true);
});

test('IPC guard: other senders, unknown channels and bad payloads are refused with a code', () => {
  const refuse = (channel: string, payload: unknown, sender = window) => {
    const r = guardIpc(channel, payload, sender, WINDOW);
    return r.ok ? 'allowed' : r.code;
  };
  assert.equal(refuse(IPC_CHANNELS.getView, undefined, { url: WINDOW, isMainFrame: false }), 'SENDER_REFUSED', 'a subframe');
  assert.equal(refuse(IPC_CHANNELS.getView, undefined, { url: 'https://evil.example/', isMainFrame: true }), 'SENDER_REFUSED', 'a navigated window');
  assert.equal(refuse(IPC_CHANNELS.getView, undefined, { url: 'file:///tmp/index.html', isMainFrame: true }), 'SENDER_REFUSED', 'another local file');
  assert.equal(refuse('dta:run-shell', { cmd: 'rm -rf /' }), 'CHANNEL_UNKNOWN');
  assert.equal(refuse('sendMessage', {}), 'CHANNEL_UNKNOWN');
  assert.equal(refuse(IPC_CHANNELS.runRemediation, { action: 'open-anything' }), 'PAYLOAD_INVALID');
  assert.equal(refuse(IPC_CHANNELS.runRemediation, { action: 'open-firewall-settings', url: 'https://evil.example' }), 'PAYLOAD_INVALID');
  assert.equal(refuse(IPC_CHANNELS.runRemediation, 'open-firewall-settings'), 'PAYLOAD_INVALID');
  assert.equal(refuse(IPC_CHANNELS.checkNow, { force: true }), 'PAYLOAD_INVALID');
  for (const name of Object.values(IPC_CHANNELS)) assert.match(name, /^dta:/, 'every channel has the dta: prefix');
});

test('tray: an icon and a tooltip in words for every state; quit only where policy allows it', () => {
  for (const state of AGENT_STATES) {
    for (const locale of ['en', 'de'] as const) {
      const model = trayModel(statusView(state, locale).agent, locale, { allowQuit: false });
      assert.ok(TRAY_ICONS.includes(model.icon));
      assert.match(model.tooltip, /^Device Trust: \S/);
      assert.ok(model.tooltip.length <= 127);
      assert.deepEqual(model.menu.map((m) => m.command), ['open-status', 'check-now', 'copy-diagnostics', 'save-bundle', 'about']);
    }
  }
  assert.equal(trayModel(statusView('blocked', 'de').agent, 'de', { allowQuit: true }).tooltip, 'Device Trust: Patientendaten sind gesperrt');
  assert.equal(trayModel(statusView('compliant', 'en').agent, 'en', { allowQuit: true }).menu.at(-1)?.command, 'quit');
  assert.equal(trayModel(statusView('error', 'en').agent, 'en', { allowQuit: true }).icon, 'blocked');
});

test('notifications: once when a check starts failing, with what is blocked and when; no nagging; news again after recovery', () => {
  const policy = createNotificationPolicy();
  assert.equal(policy.next(statusView('compliant', 'en').agent), null);
  const warn = policy.next(statusView('warning', 'en').agent);
  assert.ok(warn);
  assert.match(warn.title, /No security update/);
  assert.match(warn.body, /will be blocked from/);
  assert.equal(policy.next(statusView('warning', 'en').agent), null, 'the same failure is not repeated');
  const blocked = policy.next(statusView('blocked', 'en').agent);
  assert.match(blocked?.body ?? '', /blocked now/);
  assert.equal(policy.next(statusView('compliant', 'en').agent), null);
  assert.ok(policy.next(statusView('blocked', 'en').agent), 'failing again after a recovery is news');
  const german = createNotificationPolicy('de').next(statusView('blocked', 'de').agent);
  assert.match(german?.body ?? '', /jetzt gesperrt/);
  assert.match(german?.body ?? '', /Device-Trust-Status/);
});

test('settings links: a fixed allow-list per OS, nothing on Linux', () => {
  for (const action of REMEDIATION_ACTIONS) {
    assert.match(settingsLink('win32', action) ?? '', /^(ms-settings|windowsdefender):/);
    assert.match(settingsLink('darwin', action) ?? '', /^x-apple\.systempreferences:/);
    assert.equal(settingsLink('linux', action), undefined);
  }
});

test('tray icons exist for every state at 16, 32 and 64 px (PNG)', () => {
  const dir = join(import.meta.dirname, '..', '..', '..', 'build', 'icons');
  for (const state of TRAY_ICONS) {
    for (const [suffix, size] of [['', 16], ['@2x', 32], ['@4x', 64]] as const) {
      const png = readFileSync(join(dir, `tray-${state}${suffix}.png`));
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.equal(png.readUInt32BE(16), size, `${state}${suffix} width`);
      assert.equal(png.readUInt32BE(20), size, `${state}${suffix} height`);
    }
  }
});

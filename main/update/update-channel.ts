// One source for the update channel. electron-builder names a release's feed after its
// version (electron-builder.yml `publish` with no fixed channel: 1.3.0 writes latest.yml,
// 1.4.0-beta.1 writes beta.yml, and with generateUpdatesFilesForAllChannels a release also
// writes the feeds of the channels below it, so beta devices get stable releases too), all
// in one folder. The managed `updateChannel` setting picks which of those feeds this device
// reads; tests/main/update/update-channel.test.ts compares, for each channel and OS, the
// file electron-updater then requests with the files electron-builder's publish writes.
import type { UpdateSettings } from './update-policy.js';

/** The electron-builder / electron-updater channel name of each managed channel. */
export type FeedChannel = 'latest' | 'beta';

export function feedChannel(channel: UpdateSettings['channel']): FeedChannel {
  return channel === 'beta' ? 'beta' : 'latest';
}

export interface FeedRequest {
  readonly channel: FeedChannel;
  /** IT's feed folder (updateFeedUrl), or null for the one built into the release (app-update.yml). */
  readonly url: string | null;
}

/** What the updater is told to read: the channel always explicit, the folder IT's when set. */
export function feedRequest(settings: UpdateSettings, feedUrl: string | null): FeedRequest {
  return { channel: feedChannel(settings.channel), url: feedUrl };
}

// The update feed as electron-builder publishes it (latest.yml, latest-mac.yml,
// latest-linux.yml), and the check every downloaded file must pass: its SHA-512.
import { createHash } from 'node:crypto';
import { parse } from 'yaml';

export interface FeedFile {
  readonly url: string;
  readonly sha512: string;
  readonly size: number;
}

export interface UpdateFeed {
  readonly version: string;
  readonly files: readonly FeedFile[];
  readonly releaseDate: string;
  /** Staged rollout: the percentage of devices offered this version (absent: all). */
  readonly stagingPercentage: number | null;
}

export function parseUpdateFeed(text: string): UpdateFeed {
  const doc = parse(text, { maxAliasCount: 0 }) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new Error('the update feed is empty');
  const version = doc.version;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) throw new Error('the update feed has no valid version');
  const files = Array.isArray(doc.files) ? doc.files : [];
  const parsed: FeedFile[] = files.map((f: unknown) => {
    const r = f as Record<string, unknown>;
    if (typeof r.url !== 'string' || typeof r.sha512 !== 'string' || typeof r.size !== 'number') throw new Error('a file entry lacks url, sha512 or size');
    if (!/^[A-Za-z0-9+/]{86}==$/.test(r.sha512)) throw new Error(`the checksum of ${r.url} is not a SHA-512`);
    if (r.url.includes('/') || r.url.includes('\\') || r.url.startsWith('.')) throw new Error(`the file name ${r.url} is not a plain name`);
    return { url: r.url, sha512: r.sha512, size: r.size };
  });
  if (parsed.length === 0) throw new Error('the update feed lists no files');
  const staging = doc.stagingPercentage;
  return {
    version,
    files: parsed,
    releaseDate: typeof doc.releaseDate === 'string' ? doc.releaseDate : '',
    stagingPercentage: typeof staging === 'number' && staging >= 0 && staging <= 100 ? staging : null,
  };
}

export type DownloadCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** A downloaded update is used only if its size and SHA-512 match the feed. */
export function checkDownload(file: FeedFile, bytes: Uint8Array): DownloadCheck {
  if (bytes.length !== file.size) return { ok: false, reason: `The update ${file.url} has ${bytes.length} bytes, not ${file.size}: incomplete or tampered. The running version stays.` };
  const digest = createHash('sha512').update(bytes).digest('base64');
  if (digest !== file.sha512) return { ok: false, reason: `The update ${file.url} does not match its checksum: corrupt or tampered. The running version stays.` };
  return { ok: true };
}

/**
 * The file electron-updater downloaded, checked against its entry in the feed before it may
 * be installed (electron-updater names the file after the entry's url; it checks the
 * SHA-512 too, and this check does not depend on that). An entry without a size is
 * checked by its SHA-512 alone.
 */
export function checkDownloadedUpdate(files: readonly { url: string; sha512: string; size?: number }[], downloadedName: string, bytes: Uint8Array): DownloadCheck {
  const entry = files.find((f) => f.url.split('/').pop() === downloadedName);
  if (!entry) return { ok: false, reason: `The update ${downloadedName} is not listed in the feed. The running version stays.` };
  return checkDownload({ url: entry.url, sha512: entry.sha512, size: entry.size ?? bytes.length }, bytes);
}

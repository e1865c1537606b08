// The posture support data from managed configuration: IT's postureSupportData entries merged
// into the parts of SupportData, and supportDataMaxAgeDays. A bad entry never stops the others:
// each is reported by its number and text, with why, and skipped.
import type { SupportData } from '../../common/posture.js';
import { SupportDataSchema, defaultSupportData } from '../../common/posture.js';
import { parseSupportDataEntry } from '../../common/support-data-entry.js';
import type { ConfigProblem } from './resolve-config.js';

const KEY = 'postureSupportData';
const EXCERPT_LENGTH = 80;

export interface SupportDataFromConfig {
  readonly supportData: SupportData;
  readonly problems: readonly ConfigProblem[];
}

type ListPart = 'windowsUpdates' | 'windowsReleases' | 'linuxReleases' | 'macosReleases';

/** The schema's limit on each part, so the merged data always passes SupportDataSchema. */
const LIMITS: Readonly<Record<ListPart, number>> = {
  windowsUpdates: SupportDataSchema.properties.windowsUpdates.maxItems ?? 0,
  windowsReleases: SupportDataSchema.properties.windowsReleases.maxItems ?? 0,
  linuxReleases: SupportDataSchema.properties.linuxReleases.maxItems ?? 0,
  macosReleases: SupportDataSchema.properties.macosReleases.maxItems ?? 0,
};

/** `entries` and `maxAgeDays` are the checked setting values; `source` is where the entries came from. */
export function supportDataFromConfig(entries: readonly string[], maxAgeDays: number, source: string): SupportDataFromConfig {
  const data: SupportData = { ...defaultSupportData(), maxAgeDays };
  const found: { readonly entry: number; readonly problem: ConfigProblem }[] = [];
  const entryName = (index: number): string => {
    const text = entries[index] ?? '';
    return `Entry ${index + 1} of "${KEY}" in ${source} (${JSON.stringify(text.length > EXCERPT_LENGTH ? `${text.slice(0, EXCERPT_LENGTH)}…` : text)})`;
  };
  const refuse = (index: number, reason: string): void => {
    found.push({ entry: index, problem: { source, key: KEY, message: `${entryName(index)} is not usable: ${reason}; it is skipped; the other entries still apply.` } });
  };
  const add = <P extends ListPart>(index: number, part: P, item: SupportData[P][number], kind: string): void => {
    const list = data[part] as SupportData[P][number][];
    if (list.length >= LIMITS[part]) refuse(index, `there are more than ${LIMITS[part]} ${kind} entries`);
    else list.push(item);
  };
  const reviewDays: number[] = [];

  entries.forEach((text, index) => {
    const parsed = parseSupportDataEntry(text);
    if (!parsed.ok) {
      refuse(index, parsed.reason);
      return;
    }
    const entry = parsed.entry;
    switch (entry.kind) {
      case 'windowsUpdate':
        add(index, 'windowsUpdates', withoutKind(entry), entry.kind);
        break;
      case 'windowsRelease':
        add(index, 'windowsReleases', withoutKind(entry), entry.kind);
        break;
      case 'linuxRelease':
        add(index, 'linuxReleases', withoutKind(entry), entry.kind);
        break;
      case 'macosRelease':
        add(index, 'macosReleases', withoutKind(entry), entry.kind);
        break;
      case 'reviewedOn':
        reviewDays.push(index);
        if (data.reviewedOn === null || entry.date > data.reviewedOn) data.reviewedOn = entry.date;
        break;
    }
  });
  // More than one review day: the latest counts (IT appending a new one is the likely reason).
  for (const index of reviewDays.slice(1)) {
    found.push({ entry: index, problem: { source, key: KEY, message: `${entryName(index)} repeats reviewedOn: the latest day, ${data.reviewedOn ?? ''}, applies.` } });
  }
  return { supportData: data, problems: found.sort((a, b) => a.entry - b.entry).map((f) => f.problem) };
}

/** The entry as its part of SupportData holds it: every field but `kind`. */
function withoutKind<E extends { readonly kind: string }>(entry: E): Omit<E, 'kind'> {
  return Object.fromEntries(Object.entries(entry).filter(([name]) => name !== 'kind')) as Omit<E, 'kind'>;
}

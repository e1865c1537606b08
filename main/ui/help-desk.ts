// IT's help-desk contact for the status window, from managed configuration (helpDeskName,
// helpDeskPhone, helpDeskUrl). The schema's patterns already refuse bad values when the
// configuration is read; this reads them once more as the tray hands them to the window, so a
// link the window shows and the tray opens is https or tel: and nothing else, whatever
// reached it. A refused part is left out with a typed error; the other parts still show.
import { AgentError } from '../../common/errors.js';
import { isHttpsUrl, telLink } from '../../common/help-desk-link.js';
import type { HelpDesk } from '../../common/ipc.js';
import { HelpDeskSchema } from '../../common/ipc.js';
import { isValid } from '../../common/validate.js';
import type { EffectiveSetting } from '../config/resolve-config.js';

export interface HelpDeskReading {
  /** Null when IT set no usable part. */
  readonly helpDesk: HelpDesk | null;
  /** One CONFIG_INVALID per refused part, naming its setting. */
  readonly refusals: readonly AgentError[];
}

type Settings = Readonly<Record<string, EffectiveSetting | undefined>>;

const text = (settings: Settings, key: string): string | null => {
  const value = settings[key]?.value;
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
};

export function readHelpDesk(settings: Settings): HelpDeskReading {
  const refusals: AgentError[] = [];
  const candidate: HelpDesk = { name: text(settings, 'helpDeskName'), phone: text(settings, 'helpDeskPhone'), url: text(settings, 'helpDeskUrl') };
  if (candidate.url !== null && !isHttpsUrl(candidate.url)) {
    refusals.push(new AgentError('CONFIG_INVALID', `helpDeskUrl ${JSON.stringify(candidate.url.slice(0, 200))} is not an https address; the window shows no help desk web page.`));
    candidate.url = null;
  }
  const parts: (keyof HelpDesk)[] = ['name', 'phone', 'url'];
  for (const part of parts) {
    if (candidate[part] !== null && !isValid(HelpDeskSchema, { name: null, phone: null, url: null, [part]: candidate[part] })) {
      refusals.push(new AgentError('CONFIG_INVALID', `helpDesk${part[0]?.toUpperCase() ?? ''}${part.slice(1)} is not in the expected format; the window leaves it out.`));
      candidate[part] = null;
    }
  }
  const empty = candidate.name === null && candidate.phone === null && candidate.url === null;
  return { helpDesk: empty ? null : candidate, refusals };
}

/** The only external links the status window may open: the help desk's own. */
export function helpDeskLinks(helpDesk: HelpDesk | null): ReadonlySet<string> {
  const links = new Set<string>();
  if (helpDesk?.phone) links.add(telLink(helpDesk.phone));
  if (helpDesk?.url && isHttpsUrl(helpDesk.url)) links.add(helpDesk.url);
  return links;
}

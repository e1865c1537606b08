// What the window tells a person in every state the tray can be in: what happened, what
// still works, and what to do, in plain words, from the typed state (the state name, the
// error code, the outage, the tier and the token's expiry), never from the agent's English
// sentence, which shows only under "Technical details".
import type { AgentState, Outage } from '../common/agent-state.js';
import type { Locale, StatusView } from '../common/ipc.js';
import type { MessageKey } from './messages.js';
import { t } from './messages.js';
import { CALLS_HELP_DESK, SITUATION_WORDS, type Cause, type WorksKey } from './situation-messages.js';

export interface Situation {
  readonly happened: string;
  readonly works: string;
  readonly todo: string;
  /** The step is to call the help desk: the window shows IT's contact beside it. */
  readonly callHelpDesk: boolean;
  /** Blocked or in trouble: the section is marked as such (border, icon). */
  readonly serious: boolean;
}

/**
 * Every error code the agent or the service can give, by what a person should understand of
 * it. A Map, so a code from the agent never finds a member of Object.prototype; a code not
 * listed is an unexpected fault (and says its code under "Technical details").
 */
const CAUSE_OF_CODE: ReadonlyMap<string, Cause> = new Map<string, Cause>([
  // The tray and its agent.
  ['AGENT_UNAVAILABLE', 'agent-unavailable'],
  ['AGENT_RUNNING', 'agent-unavailable'],
  ['AGENT_VERSION_MISMATCH', 'agent-version'],
  // IT's configuration.
  ['CONFIG_INVALID', 'not-configured'],
  ['CONFIG_UNTRUSTED', 'not-configured'],
  ['PLATFORM_NOT_SUPPORTED', 'platform-unsupported'],
  // The device key and certificate.
  ['KEYSTORE_LOCKED', 'keystore-locked'],
  ['KEYSTORE_UNAVAILABLE', 'key-unusable'],
  ['KEY_MISSING', 'key-unusable'],
  ['KEY_CERT_MISMATCH', 'key-unusable'],
  ['CERT_INVALID', 'key-unusable'],
  ['CERT_CORRUPT', 'key-unusable'],
  ['MACHINE_ID_UNAVAILABLE', 'key-unusable'],
  ['CERT_EXPIRED', 'awaiting-certificate'],
  ['DEVICE_UNKNOWN', 'awaiting-certificate'],
  ['EVIDENCE_CERT_MISMATCH', 'awaiting-certificate'],
  // Registration and IT's decisions.
  ['DEVICE_PENDING', 'awaiting-approval'],
  ['KEY_CHANGE_NEEDS_APPROVAL', 'awaiting-key-approval'],
  ['ENROLMENT_SECRET_INVALID', 'enrolment-refused'],
  ['PLATFORM_CHANGED', 'platform-changed'],
  ['DEVICE_REVOKED', 'revoked'],
  ['DEVICE_DISABLED', 'disabled'],
  // The clock.
  ['CLOCK_SKEWED', 'clock'],
  ['CLOCK_SKEW', 'clock'],
  ['CERT_NOT_YET_VALID', 'clock'],
  ['NONCE_EXPIRED', 'clock'],
  // The way to the service.
  ['SERVICE_UNREACHABLE', 'service-unreachable'],
  ['PROXY_UNREACHABLE', 'proxy'],
  ['PROXY_AUTH_REQUIRED', 'proxy'],
  ['PROXY_REFUSED', 'proxy'],
  ['RATE_LIMITED', 'service-busy'],
  ['UNAVAILABLE', 'service-busy'],
  // An instance left on an older release while IT upgrades: the agent asks again (another instance).
  ['SCHEMA_NEWER_THAN_SERVICE', 'service-busy'],
  ['INTERNAL', 'service-fault'],
  ['POLICY_INVALID', 'service-fault'],
  // The service refused what the agent sent.
  ['SERVICE_REFUSED', 'check-refused'],
  ['EVIDENCE_MALFORMED', 'check-refused'],
  ['EVIDENCE_ALG_REFUSED', 'check-refused'],
  ['EVIDENCE_SIGNATURE_INVALID', 'check-refused'],
  ['EVIDENCE_INCONSISTENT', 'check-refused'],
  ['NONCE_UNKNOWN', 'check-refused'],
  ['NONCE_REPLAYED', 'check-refused'],
  ['CSR_INVALID', 'check-refused'],
  ['BAD_REQUEST', 'check-refused'],
  ['BODY_TOO_LARGE', 'check-refused'],
  ['BODY_TOO_DEEP', 'check-refused'],
  ['VALIDATION_FAILED', 'check-refused'],
  ['UNAUTHORIZED', 'check-refused'],
  ['FORBIDDEN', 'check-refused'],
  ['NOT_FOUND', 'check-refused'],
  ['ADMIN_SCOPE_INSUFFICIENT', 'check-refused'],
  // The agent's own faults.
  ['COMMAND_NOT_ALLOWED', 'agent-fault'],
  ['BUNDLE_INVALID', 'agent-fault'],
  ['BUNDLE_UNREADABLE', 'agent-fault'],
  ['USAGE', 'agent-fault'],
  ['UNEXPECTED', 'agent-fault'],
]);

/** The codes the window has its own words for (the test holds every code of the agent and the service against it). */
export function knownCodes(): readonly string[] {
  return [...CAUSE_OF_CODE.keys()];
}

/** Why the device is where it is, from the state and its code. */
export function causeOf(agent: AgentState): Cause {
  switch (agent.state) {
    case 'compliant':
    case 'warning':
    case 'blocked':
      return agent.state === 'warning' && agent.tier === 'limited' ? 'limited' : agent.state;
    case 'starting':
      return agent.errorCode === null ? 'starting' : (CAUSE_OF_CODE.get(agent.errorCode) ?? 'agent-fault');
    case 'enrolling':
      return agent.errorCode === null ? 'registering' : (CAUSE_OF_CODE.get(agent.errorCode) ?? 'registering');
    case 'offline':
      return agent.outage !== undefined ? 'outage' : agent.errorCode === null ? 'service-unreachable' : (CAUSE_OF_CODE.get(agent.errorCode) ?? 'service-unreachable');
    case 'error':
      return agent.errorCode === null ? 'agent-fault' : (CAUSE_OF_CODE.get(agent.errorCode) ?? 'agent-fault');
  }
}

const future = (iso: string | null, now: Date): boolean => iso !== null && Date.parse(iso) > now.getTime();

type Words = { readonly key: WorksKey; readonly time: string | null };

/** What still works: from the tier and the token the device holds now, whatever the cause. */
function worksOf(agent: AgentState, cause: Cause, now: Date): Words {
  if (cause === 'compliant') return { key: 'works.all', time: null };
  if (cause === 'warning') return agent.graceUntil !== null && future(agent.graceUntil, now) ? { key: 'works.all-until', time: agent.graceUntil } : { key: 'works.all', time: null };
  if (cause === 'limited') return { key: 'works.limited', time: null };
  if (cause === 'blocked') return { key: 'works.blocked', time: null };
  if (cause === 'starting') return { key: 'works.starting', time: null };
  // Trouble of any other kind: the last access pass still opens records until it expires.
  if (agent.tier !== null && agent.tier !== 'none' && future(agent.tokenExpiresAt, now)) return { key: 'works.until-token', time: agent.tokenExpiresAt };
  return { key: 'works.nothing', time: null };
}

/** During an outage: whether records stay open and until when, in the words of messages.ts. */
function outageWords(outage: Outage, now: Date): { works: MessageKey; todo: MessageKey; time: string | null; open: boolean } {
  if (outage.blockedBy.length > 0) return { works: 'outage.blocked', todo: 'outage.todo.blocked', time: null, open: false };
  if (future(outage.accessUntil, now)) return { works: outage.graceMinutes !== null ? 'outage.works' : 'outage.works.unknownGrace', todo: 'outage.todo', time: outage.accessUntil, open: true };
  return { works: 'outage.ended', todo: 'outage.todo.ended', time: null, open: false };
}

const CALM: ReadonlySet<Cause> = new Set(['compliant', 'warning', 'starting', 'registering', 'awaiting-certificate', 'service-busy']);

export function situationOf(view: StatusView, now: Date, formatTime: (iso: string, locale: Locale) => string): Situation {
  const { agent, locale } = view;
  const words = SITUATION_WORDS[locale];
  const cause = causeOf(agent);
  const at = (iso: string | null): string => (iso === null ? '' : formatTime(iso, locale));
  const fill = (text: string, params: ReadonlyMap<string, string>): string => text.replace(/\{(\w+)\}/g, (whole, name: string) => params.get(name) ?? whole);
  const params = new Map([
    ['since', at(agent.outage?.since ?? agent.since)],
    ['device', agent.deviceId ?? '—'],
  ]);
  const happened = fill(words.happened[cause], params);
  if (cause === 'outage' && agent.outage !== undefined) {
    const o = outageWords(agent.outage, now);
    const checks = agent.outage.blockedBy.map((id) => t(locale, `check.${id}`)).join(', ');
    const p = { checks, time: at(o.time) };
    return { happened, works: t(locale, o.works, p), todo: t(locale, o.todo, p), callHelpDesk: o.todo !== 'outage.todo.blocked', serious: !o.open };
  }
  const todoCause = cause === 'outage' ? 'service-unreachable' : cause;
  const works = worksOf(agent, cause, now);
  return {
    happened,
    works: fill(words.works[works.key], new Map([['time', at(works.time)]])),
    todo: fill(words.todo[todoCause], params),
    callHelpDesk: CALLS_HELP_DESK[todoCause],
    serious: !CALM.has(cause),
  };
}

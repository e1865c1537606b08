// The words for what the agent cannot do beside the device's state (common/agent-problems.ts),
// in English and German: what it means for the person at the device, and what happens next.
// Both languages are typed records over every code, so a missing sentence fails the type check.
import type { AgentProblemCode } from '../common/agent-problems.js';
import type { Locale } from '../common/ipc.js';

interface ProblemWords {
  /** The section's heading. */
  readonly heading: string;
  readonly words: Readonly<Record<AgentProblemCode, string>>;
  /** After every PAC problem: the agent goes on without that file. */
  readonly pacNext: string;
  /** A code this window does not know (a newer agent's): still said, never dropped. */
  readonly unknown: string;
}

const EN_PAC = 'The proxy configuration file (PAC) your IT department set';
const DE_PAC = 'Die Proxy-Konfigurationsdatei (PAC), die Ihre IT festgelegt hat,';

export const PROBLEM_WORDS: Readonly<Record<Locale, ProblemWords>> = {
  en: {
    heading: 'Also for IT to fix',
    words: {
      LOOPBACK_PORT_TAKEN: 'Web pages on this device cannot get its access pass: another program uses the agent\'s local port. Patient records in the browser may not open until IT frees the port; call the help desk.',
      PAC_URL_REFUSED: `${EN_PAC} is not used: its address or file is not one the agent accepts.`,
      PAC_UNREACHABLE: `${EN_PAC} cannot be fetched.`,
      PAC_TOO_LARGE: `${EN_PAC} is larger than the agent reads.`,
      PAC_SCRIPT_ERROR: `${EN_PAC} has an error.`,
      PAC_TIMEOUT: `${EN_PAC} took too long to answer and was stopped.`,
      PAC_MEMORY: `${EN_PAC} needed too much memory and was stopped.`,
      PAC_ANSWER_UNUSABLE: `${EN_PAC} names a way to the device trust service that the agent cannot use.`,
      PAC_ENGINE_UNAVAILABLE: 'The part of the agent that reads proxy configuration files (PAC) is missing from this installation.',
    },
    pacNext: 'The agent uses the next proxy setting instead. Nothing to do for you.',
    unknown: 'The agent reports a problem for IT to look at (see the technical details).',
  },
  de: {
    heading: 'Außerdem für die IT zu beheben',
    words: {
      LOOPBACK_PORT_TAKEN: 'Webseiten auf diesem Gerät erhalten seinen Zugangsnachweis nicht: Ein anderes Programm belegt den lokalen Port des Agenten. Patientenakten im Browser öffnen sich womöglich erst, wenn die IT den Port freigibt; rufen Sie den Helpdesk an.',
      PAC_URL_REFUSED: `${DE_PAC} wird nicht verwendet: Ihre Adresse oder Datei nimmt der Agent nicht an.`,
      PAC_UNREACHABLE: `${DE_PAC} kann nicht abgerufen werden.`,
      PAC_TOO_LARGE: `${DE_PAC} ist größer, als der Agent liest.`,
      PAC_SCRIPT_ERROR: `${DE_PAC} enthält einen Fehler.`,
      PAC_TIMEOUT: `${DE_PAC} hat zu lange für die Antwort gebraucht und wurde angehalten.`,
      PAC_MEMORY: `${DE_PAC} brauchte zu viel Speicher und wurde angehalten.`,
      PAC_ANSWER_UNUSABLE: `${DE_PAC} nennt einen Weg zum Gerätevertrauensdienst, den der Agent nicht nutzen kann.`,
      PAC_ENGINE_UNAVAILABLE: 'Der Teil des Agenten, der Proxy-Konfigurationsdateien (PAC) liest, fehlt in dieser Installation.',
    },
    pacNext: 'Der Agent nutzt stattdessen die nächste Proxy-Einstellung. Für Sie ist nichts zu tun.',
    unknown: 'Der Agent meldet ein Problem, das sich die IT ansehen sollte (siehe technische Details).',
  },
};

// Looked up by the agent's code: Maps, so no code finds a member of Object.prototype.
const LOOKUP: ReadonlyMap<Locale, ReadonlyMap<string, string>> = new Map(
  (Object.keys(PROBLEM_WORDS) as Locale[]).map((locale) => [locale, new Map(Object.entries(PROBLEM_WORDS[locale].words))]),
);

/** What a problem means for the person at the device, in their language. */
export function problemText(code: string, locale: Locale): string {
  const words = PROBLEM_WORDS[locale];
  const text = LOOKUP.get(locale)?.get(code);
  if (text === undefined) return words.unknown;
  return code.startsWith('PAC_') ? `${text} ${words.pacNext}` : text;
}

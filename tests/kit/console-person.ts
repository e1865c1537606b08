// A person at IT's console in Chromium: a browser context of their own (their cookies, their
// language) with one page, signed in through the test provider's pages as a person would. Every
// console test sets people up this way, and each person's context is closed when the test is
// done with it, also when the sign-in or the test fails.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { newPerson, signIn } from '../console/console-browser.js';

export interface ConsolePerson {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

export interface SignedInPerson extends ConsolePerson {
  /** Where the browser ended after the sign-in (the console, or its refusal page). */
  readonly landed: string;
  /** Whether the provider showed its consent page on the way (only a provider started with `consent: 'asked'` does). */
  readonly consented: boolean;
}

/** A new person with one open page, signed in to nothing yet. */
async function openConsolePerson(browser: Browser): Promise<ConsolePerson> {
  const context = await newPerson(browser);
  try {
    const page = await context.newPage();
    return { context, page, close: () => context.close() };
  } catch (e) {
    await context.close();
    throw e;
  }
}

/** A new person signed in to the console at `consoleUrl` as `login`; closed again if the sign-in fails. */
export async function signedInPerson(browser: Browser, consoleUrl: string, login: string): Promise<SignedInPerson> {
  const person = await openConsolePerson(browser);
  try {
    const { landed, consented } = await signIn(person.page, consoleUrl, login);
    return { ...person, landed, consented };
  } catch (e) {
    await person.close();
    throw e;
  }
}

/** Runs `use` with a new person, not signed in, and closes their context afterwards. */
export async function withConsolePerson<T>(browser: Browser, use: (person: ConsolePerson) => Promise<T>): Promise<T> {
  const person = await openConsolePerson(browser);
  try {
    return await use(person);
  } finally {
    await person.close();
  }
}

/** Runs `use` with a person signed in to the console at `consoleUrl` as `login`, and closes their context afterwards. */
export async function withSignedInPerson<T>(browser: Browser, consoleUrl: string, login: string, use: (person: SignedInPerson) => Promise<T>): Promise<T> {
  const person = await signedInPerson(browser, consoleUrl, login);
  try {
    return await use(person);
  } finally {
    await person.close();
  }
}

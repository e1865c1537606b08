// systemd-logind's sessions, as loginctl prints them (pure parsers), and which of them can
// be on a screen without a password. Recorded real outputs: tests/fixtures/linux/linux.loginctl-*.

/** One line of `loginctl list-sessions --no-legend`: "SESSION UID USER [SEAT] …" (later systemd adds columns after USER). */
export interface LoginctlListRow {
  readonly id: string;
  readonly uid: number;
  readonly user: string;
}

export interface LogindSession {
  readonly id: string;
  readonly user: string;
  readonly uid: number | null;
  /** x11, wayland, mir, tty, unspecified */
  readonly type: string;
  /** user, greeter, lock-screen, background, manager … */
  readonly class: string;
  /** online, active, closing */
  readonly state: string;
  readonly active: boolean | null;
  readonly remote: boolean | null;
  readonly seat: string;
  /** Set by the desktop while its lock screen is up (GNOME does); null when not printed. */
  readonly lockedHint: boolean | null;
  /** XDG_SESSION_DESKTOP: gnome, ubuntu, KDE, xfce …; '' when the session did not say. */
  readonly desktop: string;
}

/** The properties the show-session probe asks for; loginctl prints them in its own order. */
export const SHOW_SESSION_PROPERTIES = ['Id', 'Name', 'User', 'Type', 'Class', 'State', 'Active', 'Remote', 'Seat', 'LockedHint', 'Desktop'] as const;

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isSessionId(id: string): boolean {
  return SESSION_ID.test(id) && !id.startsWith('-');
}

export function parseLoginctlList(text: string): LoginctlListRow[] {
  const rows: LoginctlListRow[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    const [id = '', uid = '', user = ''] = t.split(/\s+/);
    if (!isSessionId(id) || !/^\d{1,10}$/.test(uid) || user === '') throw new Error(`unrecognised loginctl session line: ${t.slice(0, 80)}`);
    rows.push({ id, uid: Number(uid), user });
  }
  return rows;
}

/** `loginctl show-session ID… -p …`: one "Key=value" block per session, blocks separated by a blank line. */
export function parseShowSession(text: string): LogindSession[] {
  const sessions: LogindSession[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const props = new Map<string, string>();
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) props.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    const id = props.get('Id');
    if (id === undefined) continue;
    const uid = props.get('User') ?? '';
    sessions.push({
      id,
      user: props.get('Name') ?? '',
      uid: /^\d{1,10}$/.test(uid) ? Number(uid) : null,
      type: props.get('Type') ?? '',
      class: props.get('Class') ?? '',
      state: props.get('State') ?? '',
      active: yesNo(props.get('Active')),
      remote: yesNo(props.get('Remote')),
      seat: props.get('Seat') ?? '',
      lockedHint: yesNo(props.get('LockedHint')),
      desktop: props.get('Desktop') ?? '',
    });
  }
  return sessions;
}

export type SessionRole =
  /** Someone can have it on a screen without a password: judge its user's settings. */
  | { readonly role: 'judge' }
  /** On a screen, but with no lock the agent can read: `unknown`, never skipped. */
  | { readonly role: 'cannot-judge'; readonly why: string }
  /** Not on any screen, or locked now: not judged, listed with the reason. */
  | { readonly role: 'skip'; readonly why: string };

const GRAPHICAL = new Set(['x11', 'wayland', 'mir']);

/**
 * Which sessions count. Graphical user sessions that are in front on their seat, or that have
 * no seat (remote desktops), or that are in the background but not locked (a VT switch brings
 * them back without a password); a local text console; not the greeter, not a session that is
 * ending, not SSH or other sessions without a screen.
 */
export function sessionRole(s: LogindSession): SessionRole {
  const userClass = s.class === 'user' || s.class.startsWith('user-');
  if (s.class === 'greeter') return { role: 'skip', why: 'the sign-in screen' };
  if (s.class === 'lock-screen') return { role: 'skip', why: 'the lock screen' };
  if (!userClass) return { role: 'skip', why: `a ${s.class || 'system'} session with no screen` };
  if (s.state === 'closing') return { role: 'skip', why: 'signed out; its last processes are ending' };
  if (GRAPHICAL.has(s.type)) {
    if (s.active === false && s.lockedHint === true) return { role: 'skip', why: 'in the background and locked' };
    if (!isGnomeFamily(s.desktop)) return { role: 'cannot-judge', why: `This session runs the ${s.desktop} desktop; the agent reads the screen lock settings of GNOME only.` };
    return { role: 'judge' };
  }
  if (s.type === 'tty' && s.remote !== true && s.seat !== '') {
    return { role: 'cannot-judge', why: 'A text console is signed in on this screen; it has no screen lock the agent can read.' };
  }
  if (s.remote === true) return { role: 'skip', why: 'a remote text login (SSH) with no screen' };
  return { role: 'skip', why: `a ${s.type || 'unspecified'} session with no screen of its own` };
}

/** GNOME and the desktops built on its settings; '' is a session that did not name its desktop (judged as GNOME, as before). */
export function isGnomeFamily(desktop: string): boolean {
  return desktop === '' || /^(gnome|ubuntu|unity|pop|zorin)([-:].*)?$/i.test(desktop);
}

function yesNo(v: string | undefined): boolean | null {
  return v === 'yes' ? true : v === 'no' ? false : null;
}

// The links to IT's help desk, made the same way in the tray (which opens only these) and in
// the status window (which shows them): a tel: link and an https page, nothing else.

/** The tel: link for a phone number: its digits, the leading + kept (an RFC 3966 global number). */
export function telLink(phone: string): string {
  return `tel:${phone.trim().startsWith('+') ? '+' : ''}${phone.replace(/\D/g, '')}`;
}

/** An absolute https URL with a host: no other scheme (javascript:, file:, http:) and no user name before the host. */
export function isHttpsUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === '';
}

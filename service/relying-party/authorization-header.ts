// The device token in an Authorization header: "DPoP <token68>" (RFC 9449 §7.1), the scheme in
// any case (RFC 9110 §11.1), one or more spaces after it, spaces allowed at the end.
import { deny } from './errors.js';

/** The scheme and the spaces after it: the only part read case-insensitively. */
const DPOP_SCHEME = /^DPoP +/i;
/** RFC 9110's token68. Matched without the i flag, which made the regular expression walk a whole token about 1.6 times slower; [A-Za-z] already takes both cases. */
const TOKEN68 = /^[A-Za-z0-9_.~+/-]+=*$/;

/**
 * The token of "DPoP <token68>"; refused as TOKEN_MISSING when there is no header or it names
 * another scheme, TOKEN_MALFORMED when it names DPoP but what follows is no token68. Decides as
 * /^DPoP +([A-Za-z0-9_.~+/-]+=*) *$/i does (a property test holds the two together).
 */
export function dpopTokenOf(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') deny('TOKEN_MISSING', 'No device token (Authorization: DPoP <token>).');
  const scheme = DPOP_SCHEME.exec(authorization);
  if (scheme !== null) {
    let end = authorization.length;
    while (end > scheme[0].length && authorization.charCodeAt(end - 1) === 0x20) end--;
    const token = authorization.slice(scheme[0].length, end);
    if (TOKEN68.test(token)) return token;
  }
  const name = /^(\S+)/.exec(authorization)?.[1] ?? '';
  if (name.toLowerCase() !== 'dpop') deny('TOKEN_MISSING', 'No device token: this access service takes Authorization: DPoP <token>, not another scheme.');
  deny('TOKEN_MALFORMED', 'The Authorization header names DPoP but carries no token.');
}

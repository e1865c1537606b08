// Refuses JSON nested deeper than a limit before it is parsed (a cheap scan that skips
// strings), so a hostile body cannot exhaust the parser or the validator.
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  return scanJson(text, maxDepth).tooDeep;
}

/**
 * One pass over JSON text, skipping strings: whether it nests deeper than `maxDepth`, and how
 * many member names it holds (each is followed by the one ':' outside a string that valid JSON
 * has per member; the relying party's JWS split compares that with the parsed object to find
 * duplicate members cheaply).
 */
export function scanJson(text: string, maxDepth: number): { tooDeep: boolean; members: number } {
  let depth = 0;
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      i = closingQuote(text, i);
      if (i < 0) break; // a string that never ends: nothing after its opening quote counts
    } else if (c === 58) members++;
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return { tooDeep: true, members };
    } else if (c === 125 || c === 93) depth--;
  }
  return { tooDeep: false, members };
}

/**
 * Where the string opened at `open` ends (-1: it does not). Jumps from quote to quote (most of a
 * token is strings); a quote ends the string unless an odd run of backslashes stands before it,
 * which is exactly when a left-to-right reading of the escapes would have escaped it.
 */
function closingQuote(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q >= 0; q = text.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (q - 1 - backslashes > open && text.charCodeAt(q - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return q;
  }
  return -1;
}

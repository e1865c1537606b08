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
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 58) members++;
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return { tooDeep: true, members };
    } else if (c === 125 || c === 93) depth--;
  }
  return { tooDeep: false, members };
}

// One HTTP/1.1 request written byte for byte on a TCP socket, so a test can send what no
// well-behaved client would (any Host, a request target that is not a path, raw unicode),
// and the answer's status line, headers and body as the server sent them.
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status code of a well-formed status line, or null when none came. */
  readonly status: number | null;
  readonly statusLine: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  /** Header lines as sent, in order; `connection: close` is added after them. */
  readonly headers: readonly (readonly [string, string])[];
}

export function sendRaw(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawAnswer> {
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${request.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}connection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no answer in ${timeoutMs} ms to ${JSON.stringify(head.slice(0, 300))}`));
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    // A server that resets the connection after answering still answered; one that resets it
    // before answering shows as no status line.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks).toString('latin1'))));
    // Written, not ended: a client that half-closes would have its request dropped by Node before a slow answer.
    socket.write(Buffer.from(head, 'utf8'));
  });
}

function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = (end === -1 ? text : text.slice(0, end)).split('\r\n');
  const status = /^HTTP\/1\.[01] ([1-5]\d\d) /.exec(statusLine)?.[1];
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const raw = end === -1 ? '' : text.slice(end + 4);
  return { status: status === undefined ? null : Number(status), statusLine, headers, body: headers.get('transfer-encoding') === 'chunked' ? unchunk(raw) : raw };
}

/** The body of a chunked message (sizes in hex, each chunk followed by CRLF, a 0 chunk last). */
function unchunk(raw: string): string {
  let body = '';
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    const size = lineEnd === -1 ? 0 : parseInt(raw.slice(at, lineEnd), 16);
    if (!(size > 0)) return body;
    body += raw.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

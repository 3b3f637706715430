/**
 * Splits a byte stream (syslog over TCP, RFC 6587 non-transparent framing) into lines. CR before
 * LF is dropped; empty lines are skipped. A line longer than `maxLine` is cut there and counted,
 * so a sender that never sends a newline cannot grow memory without bound.
 */
export class LineFramer {
  private pending: Buffer | undefined;
  overlong = 0;

  constructor(private readonly maxLine = 64 * 1024) {}

  push(chunk: Buffer): { messages: Buffer[]; error?: string } {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const messages: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      pushLine(messages, buf, pos, nl);
      pos = nl + 1;
    }
    if (pos < buf.length) {
      if (buf.length - pos > this.maxLine) {
        this.overlong++;
        pushLine(messages, buf, pos, pos + this.maxLine);
      } else this.pending = Buffer.from(buf.subarray(pos));
    }
    return { messages };
  }

  /** What is left when the connection ends: a last line without a newline. */
  end(): Buffer[] {
    const out: Buffer[] = [];
    if (this.pending) pushLine(out, this.pending, 0, this.pending.length);
    this.pending = undefined;
    return out;
  }
}

function pushLine(out: Buffer[], buf: Buffer, start: number, end: number): void {
  let e = end;
  if (e > start && buf[e - 1] === 13) e--;
  if (e > start) out.push(buf.subarray(start, e));
}

/** The lines of one datagram (a syslog datagram holds one message; some senders pack several). */
export function datagramLines(buf: Buffer): string[] {
  return buf
    .toString('utf8')
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l.length > 0);
}

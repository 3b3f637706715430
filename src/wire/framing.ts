/**
 * Splitting byte runs into messages: raw payload files that hold several concatenated datagrams
 * (netcat dumps), and IPFIX over TCP (RFC 7011 10.4: messages back to back, each with its length).
 */

/**
 * Splits a raw payload file into datagrams by protocol framing: IPFIX by its length field, v5/v7 by
 * their record count, v9 by walking flowsets until one starts with 0x0009 (flowset id 9 is reserved,
 * so that can only be the next v9 header). Anything unrecognised is returned whole as one datagram
 * so the decoder counts it.
 */
export function splitDatagrams(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = messageLength(buf, pos);
    if (len <= 0 || pos + len > buf.length) {
      out.push(buf.subarray(pos));
      break;
    }
    out.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

function messageLength(buf: Buffer, pos: number): number {
  if (buf.length - pos < 4) return -1;
  const version = buf.readUInt16BE(pos);
  switch (version) {
    case 10: {
      const l = buf.readUInt16BE(pos + 2);
      return l >= 16 ? l : -1;
    }
    case 5:
    case 7: {
      const n = buf.readUInt16BE(pos + 2);
      const l = 24 + n * (version === 5 ? 48 : 52);
      return pos + l <= buf.length ? l : -1;
    }
    case 9: {
      let p = pos + 20;
      while (p + 4 <= buf.length) {
        const id = buf.readUInt16BE(p);
        const l = buf.readUInt16BE(p + 2);
        if (id === 9 && p > pos + 20) return p - pos;
        if (l < 4) break;
        p += l;
      }
      return buf.length - pos;
    }
    default:
      return -1;
  }
}

/**
 * Reassembles IPFIX messages from a TCP byte stream. push() returns the complete messages;
 * a length below the header size is a framing error after which the stream cannot be trusted.
 */
export class IpfixStreamFramer {
  private pending: Buffer | undefined;
  /** Upper bound for buffered bytes (one maximal message plus a chunk). */
  static readonly MAX_BUFFER = 65535 + 65536;

  push(chunk: Buffer): { messages: Buffer[]; error?: string } {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const messages: Buffer[] = [];
    let pos = 0;
    while (buf.length - pos >= 4) {
      const version = buf.readUInt16BE(pos);
      const len = buf.readUInt16BE(pos + 2);
      if (version !== 10 || len < 16) {
        return { messages, error: `not an IPFIX message at stream offset +${pos} (version ${version}, length ${len})` };
      }
      if (buf.length - pos < len) break;
      messages.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    if (pos < buf.length) {
      buf = buf.subarray(pos);
      // Copy so the retained tail does not pin the whole chunk.
      this.pending = Buffer.from(buf);
    }
    return { messages };
  }
}

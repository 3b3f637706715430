/**
 * Names a probe can read from the first payload of a flow: the DNS query name, the HTTP/1.x Host
 * header and the TLS ClientHello server_name (SNI).
 *
 * Each reader looks at one packet's payload only (no TCP reassembly): a ClientHello or request
 * header split across segments is not read. Every length is checked against `end` before use, so
 * hostile payloads return undefined and never throw or read out of bounds.
 */

/** Longest name kept: DNS names are at most 253 characters; HTTP hosts and SNI are bounded the same way. */
const MAX_NAME = 255;

/**
 * The first question's name of a DNS message at [off, end), dotted and lower-cased, without the root
 * dot ("" for the root itself); undefined when the bytes are not a plausible DNS message.
 */
export function dnsQueryName(b: Buffer, off: number, end: number): string | undefined {
  if (end - off < 12 + 5) return undefined; // header + root name + type + class
  const flags = (b[off + 2]! << 8) | b[off + 3]!;
  const opcode = (flags >> 11) & 0x0f;
  if (opcode > 6) return undefined; // unassigned opcodes: not DNS
  const qdcount = (b[off + 4]! << 8) | b[off + 5]!;
  if (qdcount === 0 || qdcount > 32) return undefined;
  let p = off + 12;
  let name = '';
  // Labels in a question are never compressed (nothing precedes them to point at).
  for (let labels = 0; labels < 128; labels++) {
    if (p >= end) return undefined;
    const len = b[p]!;
    p++;
    if (len === 0) {
      if (end - p < 4) return undefined; // QTYPE and QCLASS must follow
      return name.length > 0 ? name.slice(0, -1) : name; // no trailing dot
    }
    if (len > 63 || p + len > end) return undefined;
    if (name.length + len + 1 > MAX_NAME) return undefined;
    for (let i = 0; i < len; i++) {
      let c = b[p + i]!;
      if (c < 0x21 || c > 0x7e) return undefined; // printable ASCII only; anything else is not a hostname we report
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      name += String.fromCharCode(c);
      // "." inside a label would make the dotted form ambiguous.
      if (c === 0x2e) return undefined;
    }
    name += '.';
    p += len;
  }
  return undefined;
}

const METHODS = ['GET ', 'POST ', 'HEAD ', 'PUT ', 'DELETE ', 'OPTIONS ', 'PATCH ', 'CONNECT ', 'TRACE '];

/** How far into a request the Host header is looked for. */
const HTTP_SCAN = 4096;

/** The Host header of an HTTP/1.x request starting at `off`, lower-cased; undefined when there is none. */
export function httpHost(b: Buffer, off: number, end: number): string | undefined {
  if (end - off < 16) return undefined;
  const c0 = b[off]!;
  if (c0 < 0x41 || c0 > 0x5a) return undefined; // methods are upper-case tokens: a cheap first filter
  let method = false;
  for (const m of METHODS) {
    if (end - off >= m.length && b.toString('latin1', off, off + m.length) === m) {
      method = true;
      break;
    }
  }
  if (!method) return undefined;
  const stop = Math.min(end, off + HTTP_SCAN);
  // Header lines start after CRLF; the header block ends at an empty line.
  let p = off;
  for (;;) {
    const nl = b.indexOf(0x0a, p);
    if (nl < 0 || nl + 1 >= stop) return undefined;
    p = nl + 1;
    if (b[p] === 0x0d || b[p] === 0x0a) return undefined; // end of headers
    if (stop - p >= 5 && (b[p]! | 0x20) === 0x68 && (b[p + 1]! | 0x20) === 0x6f && (b[p + 2]! | 0x20) === 0x73 && (b[p + 3]! | 0x20) === 0x74 && b[p + 4] === 0x3a) {
      let s = p + 5;
      while (s < stop && (b[s] === 0x20 || b[s] === 0x09)) s++;
      let e = s;
      while (e < stop && b[e] !== 0x0d && b[e] !== 0x0a) e++;
      if (e === stop && stop !== end) return undefined; // cut by the scan limit
      while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0x09)) e--;
      if (e === s || e - s > MAX_NAME) return undefined;
      for (let i = s; i < e; i++) if (b[i]! < 0x21 || b[i]! > 0x7e) return undefined;
      return b.toString('latin1', s, e).toLowerCase();
    }
  }
}

/** The server_name (host_name type) of a TLS ClientHello record starting at `off`; undefined otherwise. */
export function tlsServerName(b: Buffer, off: number, end: number): string | undefined {
  // Record header: type 22 (handshake), version 3.x, length; then handshake type 1 (ClientHello).
  if (end - off < 5 + 4 + 2 + 32 + 1) return undefined;
  if (b[off] !== 22 || b[off + 1] !== 3 || b[off + 5] !== 1) return undefined;
  const recEnd = Math.min(end, off + 5 + ((b[off + 3]! << 8) | b[off + 4]!));
  const hsLen = (b[off + 6]! << 16) | (b[off + 7]! << 8) | b[off + 8]!;
  const hsEnd = Math.min(recEnd, off + 9 + hsLen);
  let p = off + 9 + 2 + 32; // client_version, random
  if (p >= hsEnd) return undefined;
  p += 1 + b[p]!; // session_id
  if (p + 2 > hsEnd) return undefined;
  p += 2 + ((b[p]! << 8) | b[p + 1]!); // cipher_suites
  if (p + 1 > hsEnd) return undefined;
  p += 1 + b[p]!; // compression_methods
  if (p + 2 > hsEnd) return undefined;
  const extEnd = Math.min(hsEnd, p + 2 + ((b[p]! << 8) | b[p + 1]!));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (p + len > extEnd) return undefined;
    if (type === 0) {
      // ServerNameList: length, then entries of (type, length, name); host_name is type 0.
      let q = p + 2;
      const listEnd = Math.min(p + len, p + 2 + ((b[p]! << 8) | b[p + 1]!));
      while (q + 3 <= listEnd) {
        const nameType = b[q]!;
        const nameLen = (b[q + 1]! << 8) | b[q + 2]!;
        q += 3;
        if (q + nameLen > listEnd) return undefined;
        if (nameType === 0) {
          if (nameLen === 0 || nameLen > MAX_NAME) return undefined;
          for (let i = q; i < q + nameLen; i++) if (b[i]! < 0x21 || b[i]! > 0x7e) return undefined;
          return b.toString('latin1', q, q + nameLen).toLowerCase();
        }
        q += nameLen;
      }
      return undefined;
    }
    p += len;
  }
  return undefined;
}

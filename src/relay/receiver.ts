/**
 * Receiver specifications, in samplicator's syntax plus a spoofing flag:
 *
 *   addr[/port[/interval[,ttl]]][/S|/P]
 *
 * addr is an IPv4 address, an IPv6 address in brackets ([2001:db8::1]) or bare when no port follows,
 * or a host name (resolved once at start); port defaults to 2000; interval N sends every Nth
 * datagram (the first, then N-1 skipped; default 1 = all); ttl is the IPv4 TTL / IPv6 hop limit
 * (1-255). A last segment of letters sets flags: S spoofs the source for this receiver, P never
 * spoofs it (even under -S). Parsing is pure; resolveReceiver() does the DNS.
 */
import { lookup } from 'node:dns/promises';
import { parseAddress, type Family, type IpAddress } from '../wire/packet/addr.js';
import { SluiceError } from '../util/errors.js';

export const DEFAULT_RECEIVER_PORT = 2000;

export interface ReceiverSpec {
  /** What was written (for counters, logs and errors). */
  readonly text: string;
  /** An address literal or a host name, without brackets. */
  readonly host: string;
  readonly port: number;
  /** Send every Nth datagram (1 = every one). */
  readonly interval: number;
  /** TTL / hop limit; undefined = the system default (64 on raw sends). */
  readonly ttl?: number;
  /** true = spoof, false = never spoof, undefined = follow the relay-wide default (-S). */
  readonly spoof?: boolean;
}

/** A receiver whose host is an address, as the Replicator takes it. */
export interface ResolvedReceiver extends ReceiverSpec {
  readonly address: IpAddress;
}

/** A syntax error at a 1-based column of the receiver text. */
export class ReceiverSyntaxError extends SluiceError {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super('receiver-syntax', message, { column });
  }
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

function int(text: string, column: number, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new ReceiverSyntaxError(`${what} "${text}" is not a number`, column);
  const n = Number(text);
  if (n < min || n > max) throw new ReceiverSyntaxError(`${what} ${n} is out of range ${min}-${max}`, column);
  return n;
}

/** Parses one receiver; errors carry the 1-based column within `text`. */
export function parseReceiver(text: string): ReceiverSpec {
  if (text.length === 0) throw new ReceiverSyntaxError('empty receiver', 1);
  let host: string;
  let rest: string;
  let restAt: number; // 0-based offset of rest in text
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new ReceiverSyntaxError('missing "]" after the IPv6 address', text.length + 1);
    host = text.slice(1, close);
    if (parseAddress(host)?.family !== 6) throw new ReceiverSyntaxError(`"${host}" in brackets is not an IPv6 address`, 2);
    rest = text.slice(close + 1);
    restAt = close + 1;
    if (rest !== '' && !rest.startsWith('/')) throw new ReceiverSyntaxError('expected "/" after "]"', restAt + 1);
  } else if (parseAddress(text)?.family === 6) {
    // A bare IPv6 address with nothing after it (a slash would be ambiguous only with a prefix length).
    host = text;
    rest = '';
    restAt = text.length;
  } else {
    const slash = text.indexOf('/');
    host = slash < 0 ? text : text.slice(0, slash);
    rest = slash < 0 ? '' : text.slice(slash);
    restAt = slash < 0 ? text.length : slash;
    if (host === '') throw new ReceiverSyntaxError('missing receiver address', 1);
    if (parseAddress(host) === undefined) {
      if (host.includes(':')) throw new ReceiverSyntaxError(`"${host}" looks like IPv6: write it in brackets, e.g. [${host}]/2055`, 1);
      if (/^[\d.]+$/.test(host)) throw new ReceiverSyntaxError(`"${host}" is not an IPv4 address`, 1);
      if (!HOST_NAME.test(host)) throw new ReceiverSyntaxError(`"${host}" is neither an address nor a host name`, 1);
    }
  }

  // rest is "" or "/seg/seg...": port, interval[,ttl], then an optional flags segment.
  const segs: { s: string; at: number }[] = [];
  if (rest !== '') {
    let at = restAt + 1;
    for (const s of rest.slice(1).split('/')) {
      segs.push({ s, at });
      at += s.length + 1;
    }
  }
  let spoof: boolean | undefined;
  const last = segs[segs.length - 1];
  if (last !== undefined && /^[A-Za-z]+$/.test(last.s)) {
    for (const [i, ch] of [...last.s].entries()) {
      if (ch === 'S') spoof = true;
      else if (ch === 'P') spoof = false;
      else throw new ReceiverSyntaxError(`unknown receiver flag "${ch}" (S = spoof the source, P = plain)`, last.at + i + 1);
    }
    if (last.s.includes('S') && last.s.includes('P')) throw new ReceiverSyntaxError('flags S and P contradict each other', last.at + 1);
    segs.pop();
  }
  if (segs.length > 2) throw new ReceiverSyntaxError('too many "/" parts: expected addr/port/interval,ttl[/S|/P]', segs[2]!.at);

  let port = DEFAULT_RECEIVER_PORT;
  let interval = 1;
  let ttl: number | undefined;
  if (segs[0] !== undefined) port = int(segs[0].s, segs[0].at + 1, 'port', 1, 65535);
  if (segs[1] !== undefined) {
    const { s, at } = segs[1];
    const comma = s.indexOf(',');
    const iv = comma < 0 ? s : s.slice(0, comma);
    if (iv !== '') interval = int(iv, at + 1, 'interval', 1, 0x7fffffff);
    if (comma >= 0) ttl = int(s.slice(comma + 1), at + comma + 2, 'ttl', 1, 255);
  }
  const spec: { -readonly [K in keyof ReceiverSpec]: ReceiverSpec[K] } = { text, host, port, interval };
  if (ttl !== undefined) spec.ttl = ttl;
  if (spoof !== undefined) spec.spoof = spoof;
  return spec;
}

/** Resolves the host of a receiver once (addresses pass through), preferring `family` when given. */
export async function resolveReceiver(spec: ReceiverSpec, family?: Family): Promise<ResolvedReceiver> {
  const literal = parseAddress(spec.host);
  if (literal !== undefined) return { ...spec, address: literal };
  let r: { address: string };
  try {
    r = await lookup(spec.host, family !== undefined ? { family } : {});
  } catch (err) {
    throw new SluiceError('receiver-syntax', `receiver "${spec.text}": cannot resolve ${spec.host} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const address = parseAddress(r.address);
  if (address === undefined) throw new SluiceError('receiver-syntax', `${spec.text}: ${spec.host} resolved to "${r.address}", not an address`);
  return { ...spec, address };
}

/** The receiver as "addr/port" (IPv6 in brackets) for logs. */
export function receiverName(r: { readonly host: string; readonly port: number }): string {
  return r.host.includes(':') ? `[${r.host}]/${r.port}` : `${r.host}/${r.port}`;
}

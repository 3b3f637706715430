/**
 * The replication engine of `sluice relay`, independent of the command line so the service can run
 * it on its own UDP sockets: hand it each datagram with its source, it sends a copy to every
 * receiver that wants one.
 *
 *   const r = await Replicator.open(receivers, { rules, spoof, log });
 *   socket.on('message', (buf, rinfo) => r.handle(buf, rinfo.address, rinfo.port));
 *   ...; await r.close();
 *
 * Plain receivers each get a connected UDP socket, so ICMP errors (port or host unreachable) come
 * back on that socket and are counted for that receiver only. Spoofed receivers share one raw
 * socket per family (native addon); the IP header carries the exporter's address and port, and
 * datagrams beyond the path MTU are fragmented by the addon. Nothing here throws on bad input or
 * a dead receiver: every loss is a counter with a reason, per receiver, and a rate-limited log line.
 * No receiver can block another: sends never wait (a full queue or send buffer is a drop).
 */
import dgram from 'node:dgram';
import { constants as osConstants } from 'node:os';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { dropReasonsOf, type DropReasonOf } from '../util/drop-reasons.js';
import { parseAddress, prefixMatches, unmapIpv4, type Family, type IpAddress, type IpPrefix } from '../wire/packet/addr.js';
import { batchDatagram, batchSourceText, META, type DatagramBatch } from '../sources/datagram-batch.js';
import { tryLoadNativeAddon, type NativeAddon } from '../sources/native-addon.js';
import { addonForSpoofing, openRawSocket } from './native.js';
import { receiverName, type ResolvedReceiver } from './receiver.js';

/** Why a copy did not reach a receiver: the relay stage of the one vocabulary (util/drop-reasons.ts). */
export type DropReason = DropReasonOf<'relay'>;

export const RELAY_DROP_REASONS: readonly DropReason[] = dropReasonsOf('relay');

export interface ReceiverCounters {
  /** The receiver as written, e.g. "10.0.0.5/2055/10,4/S". */
  readonly receiver: string;
  /** "command line" or "file:line" of the config rule that selected it. */
  readonly from: string;
  readonly spoofed: boolean;
  /** Datagrams handed to the kernel (IP fragments count once). */
  sent: number;
  sentBytes: number;
  /** Datagrams left out by the receiver's interval (sampling), not losses. */
  skipped: number;
  readonly dropped: Record<DropReason, number>;
}

export interface RelayCounters {
  received: number;
  receivedBytes: number;
  /** Datagrams no receiver was selected for (no command-line receivers and no rule matched). */
  unmatched: number;
  readonly receivers: readonly ReceiverCounters[];
}

export interface ResolvedRule {
  /** undefined = every source. */
  readonly prefix?: IpPrefix;
  readonly receivers: readonly ResolvedReceiver[];
  readonly where: string;
}

export interface ReplicatorOptions {
  /** Source-selected receivers (samplicator's config file). */
  readonly rules?: readonly ResolvedRule[];
  /** Spoof receivers that have no /S or /P flag (samplicator's -S). Default false. */
  readonly spoof?: boolean;
  /** Leave the UDP checksum zero on raw IPv4 sends (-n); IPv6 always has one (RFC 8200). */
  readonly zeroChecksum?: boolean;
  /**
   * Microseconds to wait after each send (-x). This blocks the thread, as samplicator does; meant
   * for the relay command, where nothing else runs on the thread.
   */
  readonly delayUs?: number;
  /** Socket send buffer for the sending sockets, bytes. Default 1 MiB (the kernel may cap it). */
  readonly sendBufferBytes?: number;
  /** Datagrams that may wait in Node for one plain receiver before new ones are dropped. Default 4096. */
  readonly maxQueuedPerReceiver?: number;
  /** Called with one line per datagram when set (-d). */
  readonly debug?: (line: string) => void;
  /** Problems (drops), rate-limited per receiver and reason. Default: stderr. */
  readonly log?: (line: string) => void;
  /** The raw-send addon, for tests; default: loaded on demand when a receiver spoofs. */
  readonly addon?: NativeAddon;
  /**
   * How plain (not spoofed) copies leave: 'native' = a connected socket of the addon, one send()
   * per copy with its error (ICMP included) returned at once; 'dgram' = node:dgram only; 'auto'
   * (default) = native when the addon loads, else dgram. Both count the same way.
   */
  readonly plainSender?: 'auto' | 'native' | 'dgram';
}

const DEFAULT_RAW_TTL = 64;
const E = osConstants.errno;

interface Target {
  readonly spec: ResolvedReceiver;
  readonly name: string;
  readonly counters: ReceiverCounters;
  /** Datagrams still to skip before the next one is sent. */
  countdown: number;
  readonly socket?: dgram.Socket;
  /** A connected socket of the addon (plainSender native). */
  readonly fd?: number;
  /** The send callback (one per receiver, not a closure per datagram). */
  onSent?: (err: Error | null, bytes?: number) => void;
  readonly raw?: { readonly fd: number; readonly family: Family; readonly dst: Buffer; mtu: number; readonly ttl: number };
  /** handleBatch: slots of the current batch for this receiver's sendmmsg, and their bytes. */
  batchIdx?: Int32Array;
  batchN: number;
  batchBytes: number;
}

interface SourceEntry {
  readonly addr: IpAddress | undefined;
  readonly targets: readonly Target[];
}

function emptyDrops(): Record<DropReason, number> {
  return { unreachable: 0, 'too-big': 0, 'queue-full': 0, 'buffer-full': 0, 'family-mismatch': 0, 'send-error': 0 };
}

function reasonOf(code: string | undefined): DropReason {
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable';
    case 'EMSGSIZE':
      return 'too-big';
    case 'ENOBUFS':
    case 'EAGAIN':
    case 'EWOULDBLOCK':
      return 'buffer-full';
    default:
      return 'send-error';
  }
}

const ERRNO_NAME = new Map<number, string>(Object.entries(E).map(([k, v]) => [v as number, k]));

const MAX_SOURCES_CACHED = 65_536;

export class Replicator {
  private readonly all: Target[];
  private readonly ruled: { rule: ResolvedRule; targets: Target[] }[];
  private readonly targets: Target[];
  private readonly sources = new Map<string, SourceEntry>();
  /** handleBatch's cache for IPv4 sources (IPv4-mapped ones included), keyed by the address as a number. */
  private readonly sources4 = new Map<number, SourceEntry>();
  /** Receivers with copies pending in the current batch, and sendBatch's per-datagram results. */
  private readonly pending: Target[] = [];
  private batchResults = new Int32Array(0);
  private readonly fds: number[]; // raw and native plain sockets, closed by close()
  private readonly problems: RateLimitedLog;
  private readonly sleeper?: Int32Array;
  private closed = false;
  readonly counters: RelayCounters;

  private constructor(
    all: Target[],
    ruled: { rule: ResolvedRule; targets: Target[] }[],
    fds: number[],
    private readonly addon: NativeAddon | undefined,
    private readonly opts: ReplicatorOptions,
  ) {
    this.all = all;
    this.ruled = ruled;
    this.targets = [...all, ...ruled.flatMap((r) => r.targets)];
    this.fds = fds;
    const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
    this.problems = new RateLimitedLog((msg, suppressed) => log(suppressed > 0 ? `${msg} (and ${suppressed} more like it)` : msg));
    if ((opts.delayUs ?? 0) > 0) this.sleeper = new Int32Array(new SharedArrayBuffer(4));
    this.counters = { received: 0, receivedBytes: 0, unmatched: 0, receivers: this.targets.map((t) => t.counters) };
  }

  /**
   * Opens the sending sockets (one connected UDP socket per plain receiver, the addon's or
   * node:dgram's by plainSender; one raw socket per
   * family when any receiver spoofs). Throws SpoofUnavailableError when spoofing is asked for and
   * the addon or the privilege is missing, before any socket is left open.
   */
  static async open(receivers: readonly ResolvedReceiver[], opts: ReplicatorOptions = {}): Promise<Replicator> {
    const rules = opts.rules ?? [];
    const spoofs = (r: ResolvedReceiver) => r.spoof ?? opts.spoof ?? false;
    const every = [...receivers, ...rules.flatMap((r) => r.receivers)];
    const sndbuf = opts.sendBufferBytes ?? 1 << 20;
    const families = new Set(every.filter(spoofs).map((r) => r.address.family));
    let addon = opts.addon;
    const rawFd = new Map<Family, number>();
    if (families.size > 0) {
      addon ??= addonForSpoofing();
      try {
        for (const f of families) rawFd.set(f, openRawSocket(addon, f, sndbuf));
      } catch (err) {
        for (const fd of rawFd.values()) addon.close(fd);
        throw err;
      }
    }
    const mode = opts.plainSender ?? 'auto';
    if (mode === 'native') addon ??= addonForSpoofing();
    else if (mode === 'auto') addon ??= tryLoadNativeAddon();
    const nativePlain = mode !== 'dgram' && addon !== undefined && typeof addon.openUdp === 'function';
    const plainFds: number[] = [];
    const sockets: dgram.Socket[] = [];
    const make = async (spec: ResolvedReceiver, from: string): Promise<Target> => {
      const spoofed = spoofs(spec);
      const counters: ReceiverCounters = { receiver: spec.text, from, spoofed, sent: 0, sentBytes: 0, skipped: 0, dropped: emptyDrops() };
      const name = receiverName({ host: spec.address.text, port: spec.port });
      if (spoofed) {
        const family = spec.address.family;
        const mtu = addon!.pathMtu(family, spec.address.bytes);
        return {
          spec,
          name,
          counters,
          countdown: 0,
          batchN: 0,
          batchBytes: 0,
          raw: { fd: rawFd.get(family)!, family, dst: spec.address.bytes, mtu: mtu > 0 ? mtu : family === 4 ? 576 : 1280, ttl: spec.ttl ?? DEFAULT_RAW_TTL },
        };
      }
      if (nativePlain) {
        const fd = addon!.openUdp(spec.address.family, spec.address.bytes, spec.port, spec.ttl ?? 0, sndbuf);
        if (fd < 0) throw new Error(`receiver ${spec.text}: cannot open a socket to it (${ERRNO_NAME.get(-fd) ?? fd})`);
        plainFds.push(fd);
        return { spec, name, counters, countdown: 0, fd, batchN: 0, batchBytes: 0 };
      }
      const socket = dgram.createSocket({ type: spec.address.family === 4 ? 'udp4' : 'udp6', sendBufferSize: sndbuf });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(spec.port, spec.address.text, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (spec.ttl !== undefined) {
        socket.setTTL(spec.ttl);
        if (isMulticast(spec.address)) socket.setMulticastTTL(spec.ttl);
      }
      return { spec, name, counters, countdown: 0, socket, batchN: 0, batchBytes: 0 };
    };
    try {
      const all = await Promise.all(receivers.map((r) => make(r, 'command line')));
      const ruled = await Promise.all(rules.map(async (rule) => ({ rule, targets: await Promise.all(rule.receivers.map((r) => make(r, rule.where))) })));
      const rep = new Replicator(all, ruled, [...rawFd.values(), ...plainFds], addon, opts);
      for (const t of rep.targets) if (t.socket !== undefined) rep.watch(t, t.socket);
      return rep;
    } catch (err) {
      for (const s of sockets) s.close();
      for (const fd of [...rawFd.values(), ...plainFds]) addon!.close(fd);
      throw err;
    }
  }

  /**
   * Send failures come to the send callback (a pending ICMP error makes the next send fail; EMSGSIZE
   * and the like fail at once). An ICMP error that the socket's reader sees first arrives as an
   * 'error' event from recvmsg instead: the datagram that caused it was sent, so only the error is
   * counted.
   */
  private watch(t: Target, socket: dgram.Socket): void {
    const note = (err: NodeJS.ErrnoException, reason: DropReason) =>
      this.problems.log(`${t.name}:${reason}`, `relay: receiver ${t.spec.text}: ${reason} (${err.code ?? err.message}); counted, other receivers unaffected`);
    t.onSent = (err, bytes) => {
      if (err === null) {
        t.counters.sent++;
        t.counters.sentBytes += bytes ?? 0;
        return;
      }
      const reason = reasonOf((err as NodeJS.ErrnoException).code);
      t.counters.dropped[reason]++;
      note(err, reason);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reason = reasonOf(err.code);
      t.counters.dropped[reason]++;
      note(err, reason);
    });
  }

  /** Every receiver selected for a source: the command-line ones, then each matching rule's. */
  private lookup(srcAddr: string): SourceEntry {
    let e = this.sources.get(srcAddr);
    if (e !== undefined) return e;
    const parsed = parseAddress(srcAddr);
    const addr = parsed === undefined ? undefined : unmapIpv4(parsed);
    const targets: Target[] = [...this.all];
    for (const { rule, targets: ts } of this.ruled) {
      if (rule.prefix === undefined || (addr !== undefined && prefixMatches(rule.prefix, addr))) targets.push(...ts);
    }
    e = { addr, targets };
    if (this.sources.size >= MAX_SOURCES_CACHED) this.sources.clear();
    this.sources.set(srcAddr, e);
    return e;
  }

  /**
   * Sends `buf` (a datagram from srcAddr:srcPort) to its receivers. Never throws, never waits
   * (except for the -x delay). `buf` may be held until the copies are sent: do not reuse it.
   */
  handle(buf: Buffer, srcAddr: string, srcPort: number): void {
    if (this.closed) return;
    const c = this.counters;
    c.received++;
    c.receivedBytes += buf.length;
    const entry = this.lookup(srcAddr);
    const targets = entry.targets;
    if (targets.length === 0) {
      c.unmatched++;
      if (this.opts.debug !== undefined) this.opts.debug(`${srcAddr} port ${srcPort}, ${buf.length} bytes: no receiver selected`);
      return;
    }
    let line: string[] | undefined = this.opts.debug !== undefined ? [] : undefined;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (!this.takes(t)) {
        line?.push(`${t.name} (skipped, 1 in ${t.spec.interval})`);
        continue;
      }
      // Not inside line?.push(...): optional chaining would skip the send when not debugging.
      const why = this.sendOne(t, buf, entry, srcPort);
      line?.push(why === undefined ? `${t.name}${t.raw !== undefined ? ' (spoofed)' : ''}` : `${t.name} (dropped: ${why})`);
      if (this.sleeper !== undefined) Atomics.wait(this.sleeper, 0, 0, this.opts.delayUs! / 1000);
    }
    if (line !== undefined) this.opts.debug!(`${srcAddr} port ${srcPort}, ${buf.length} bytes -> ${line.join(', ')}`);
  }

  /**
   * handle() for a batch of datagrams from the addon's batched receiver, with the same counting,
   * selection, sampling and drop reasons, and copies in the same order per receiver: plain copies
   * through the addon leave with one sendmmsg() per receiver for the whole batch; spoofed and
   * node:dgram copies one by one, as in handle(). With -d lines or a -x delay every datagram goes
   * through handle() itself. The batch's memory is reused after this returns: node:dgram copies,
   * which leave later, get their own buffer.
   */
  handleBatch(b: DatagramBatch): void {
    if (this.closed) return;
    const n = b.count;
    const meta = b.meta;
    const addon = this.addon;
    if (this.opts.debug !== undefined || this.sleeper !== undefined || addon?.sendBatch === undefined) {
      for (let i = 0; i < n; i++) {
        const view = batchDatagram(b, i);
        this.handle(this.holdsBuffers ? Buffer.from(view) : view, batchSourceText(b, i), meta[i * META + 2]!);
      }
      return;
    }
    const c = this.counters;
    c.received += n;
    const pending = this.pending;
    const fixed = this.fixedEntry;
    for (let i = 0; i < n; i++) {
      const len = meta[i * META]!;
      c.receivedBytes += len;
      const entry = fixed ?? this.lookupBatch(b, i);
      const targets = entry.targets;
      if (targets.length === 0) {
        c.unmatched++;
        continue;
      }
      for (let k = 0; k < targets.length; k++) {
        const t = targets[k]!;
        if (!this.takes(t)) continue;
        if (t.fd !== undefined) {
          // Plain copies through the addon: gathered per receiver, one sendmmsg() each below.
          if (t.batchN === 0) pending.push(t);
          let idx = t.batchIdx;
          if (idx === undefined || idx.length < n) idx = t.batchIdx = new Int32Array(Math.max(n, 64));
          idx[t.batchN++] = i;
          t.batchBytes += len;
        } else {
          // node:dgram sends later and holds the buffer, while the batch's memory is reused: a copy.
          const view = batchDatagram(b, i);
          this.sendOne(t, t.socket !== undefined ? Buffer.from(view) : view, entry, meta[i * META + 2]!);
        }
      }
    }
    for (let k = 0; k < pending.length; k++) {
      const t = pending[k]!;
      const count = t.batchN;
      if (this.batchResults.length < count) this.batchResults = new Int32Array(Math.max(count, 64));
      const res = this.batchResults;
      const sent = addon.sendBatch(t.fd!, b.slab, b.slot, meta, t.batchIdx!, count, res);
      if (sent === count) {
        t.counters.sent += count;
        t.counters.sentBytes += t.batchBytes;
      } else {
        for (let j = 0; j < count; j++) this.count(t, res[j]!, meta[t.batchIdx![j]! * META]!);
      }
      t.batchN = 0;
      t.batchBytes = 0;
    }
    pending.length = 0;
  }

  /** lookup() for datagram i of a batch, without making the address text for IPv4 sources seen before. */
  private lookupBatch(b: DatagramBatch, i: number): SourceEntry {
    const a = b.addrs;
    const o = i * 16;
    let v4: number | undefined;
    if (b.meta[i * META + 1] === 4) v4 = a.readUInt32BE(o);
    else if (a.readUInt32BE(o) === 0 && a.readUInt32BE(o + 4) === 0 && a.readUInt32BE(o + 8) === 0xffff) v4 = a.readUInt32BE(o + 12);
    if (v4 === undefined) return this.lookup(batchSourceText(b, i));
    let e = this.sources4.get(v4);
    if (e === undefined) {
      e = this.lookup(`${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`);
      if (this.sources4.size >= MAX_SOURCES_CACHED) this.sources4.clear();
      this.sources4.set(v4, e);
    }
    return e;
  }

  /** Plain copies through node:dgram leave after handle() returns, holding the buffer. */
  private get holdsBuffers(): boolean {
    return this.targets.some((t) => t.socket !== undefined);
  }

  /** Every source gets the same receivers and none spoofs (no rules, no raw sends): no lookup needed. */
  private get fixedEntry(): SourceEntry | undefined {
    if (this.fixed === null) this.fixed = this.ruled.length === 0 && this.all.every((t) => t.raw === undefined) ? { addr: undefined, targets: this.all } : undefined;
    return this.fixed;
  }
  private fixed: SourceEntry | undefined | null = null;

  private sendRaw(t: Target, buf: Buffer, src: IpAddress | undefined, srcPort: number): DropReason | undefined {
    const raw = t.raw!;
    if (src === undefined || src.family !== raw.family) return this.drop(t, 'family-mismatch', `source ${src?.text ?? '?'} cannot be spoofed towards an IPv${raw.family} receiver`);
    const addon = this.addon!;
    let r = addon.send(raw.fd, raw.family, src.bytes, srcPort, raw.dst, t.spec.port, raw.ttl, buf, raw.mtu, this.opts.zeroChecksum ?? false);
    if (r === -E.EMSGSIZE) {
      // The route's MTU may have dropped since we asked; ask again and retry once.
      const mtu = addon.pathMtu(raw.family, raw.dst);
      if (mtu > 0 && mtu !== raw.mtu) {
        raw.mtu = mtu;
        r = addon.send(raw.fd, raw.family, src.bytes, srcPort, raw.dst, t.spec.port, raw.ttl, buf, raw.mtu, this.opts.zeroChecksum ?? false);
      }
    }
    // The addon returns IP packets sent (fragments), not bytes: count the datagram's size.
    return this.count(t, r > 0 ? buf.length : r, buf.length);
  }

  /** The sampling countdown of a receiver: 1 in N, the first datagram, then every Nth. */
  private takes(t: Target): boolean {
    if (t.countdown > 0) {
      t.countdown--;
      t.counters.skipped++;
      return false;
    }
    t.countdown = t.spec.interval - 1;
    return true;
  }

  /** One copy to a receiver now; the drop reason when it could not go. */
  private sendOne(t: Target, buf: Buffer, entry: SourceEntry, srcPort: number): DropReason | undefined {
    if (t.fd !== undefined) return this.count(t, this.addon!.sendUdp(t.fd, buf), buf.length);
    const socket = t.socket;
    if (socket === undefined) return this.sendRaw(t, buf, entry.addr, srcPort);
    const maxQueued = this.opts.maxQueuedPerReceiver ?? 4096;
    if (socket.getSendQueueCount() >= maxQueued) return this.drop(t, 'queue-full', `${maxQueued} datagrams already waiting`);
    // Counted in onSent, once the kernel has taken it (or refused it).
    socket.send(buf, t.onSent);
    return undefined;
  }

  /** Counts a send's result (bytes, or -errno) for a receiver: sent, or dropped with the errno's reason. */
  private count(t: Target, r: number, bytes: number): DropReason | undefined {
    if (r >= 0) {
      t.counters.sent++;
      t.counters.sentBytes += r;
      return undefined;
    }
    const name = ERRNO_NAME.get(-r);
    return this.drop(t, reasonOf(name), `${name ?? r}, ${bytes} bytes`);
  }

  private drop(t: Target, reason: DropReason, detail: string): DropReason {
    t.counters.dropped[reason]++;
    this.problems.log(`${t.name}:${reason}`, `relay: receiver ${t.spec.text}: ${reason} (${detail}); counted, other receivers unaffected`);
    return reason;
  }

  /** Waits (up to `flushMs`) for queued datagrams to leave, then closes every sending socket. */
  async close(flushMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const until = Date.now() + flushMs;
    const sockets = this.targets.map((t) => t.socket).filter((s): s is dgram.Socket => s !== undefined);
    while (Date.now() < until && sockets.some((s) => s.getSendQueueCount() > 0)) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const fd of this.fds) this.addon?.close(fd);
  }
}

function isMulticast(a: IpAddress): boolean {
  return a.family === 4 ? (a.bytes[0]! & 0xf0) === 0xe0 : a.bytes[0] === 0xff;
}

/** A one-line summary of the counters, for logs. */
export function formatRelayCounters(c: RelayCounters): string {
  const parts = c.receivers.map((r) => {
    const drops = RELAY_DROP_REASONS.filter((k) => r.dropped[k] > 0).map((k) => `${k} ${r.dropped[k]}`);
    return `${r.receiver}${r.spoofed ? ' (spoofed)' : ''}: sent ${r.sent}${r.skipped > 0 ? `, skipped ${r.skipped}` : ''}${drops.length > 0 ? `, dropped ${drops.join(', ')}` : ''}`;
  });
  return `received ${c.received} datagrams (${c.receivedBytes} bytes)${c.unmatched > 0 ? `, ${c.unmatched} for no receiver` : ''}; ${parts.join('; ')}`;
}

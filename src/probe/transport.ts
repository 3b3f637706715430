/**
 * Where export messages go: one or more collectors over UDP, or over TCP (IPFIX only; RFC 7011
 * 10.4: the messages back to back on the stream, each framed by its own length field).
 *
 * UDP sends every message to every collector. TCP keeps a connection per collector, sends the
 * templates first on every (re)connect, reconnects every few seconds while a collector is down, and
 * holds what it cannot send yet up to a bound; past the bound messages are dropped and counted.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { SluiceError } from '../util/errors.js';

export interface CollectorAddress {
  readonly host: string;
  readonly port: number;
}

/** host:port, [v6]:port or v6 literal with a port after the last colon in brackets only. */
export function parseCollector(spec: string): CollectorAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(spec) ?? /^([^:]+):(\d+)$/.exec(spec);
  if (m === null) throw new SluiceError('usage', `collector "${spec}" is not host:port (IPv6 as [addr]:port)`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SluiceError('usage', `collector "${spec}": port must be 1-65535`);
  return { host: m[1]!, port };
}

interface Resolved {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly label: string;
}

async function resolve(c: CollectorAddress): Promise<Resolved> {
  const r = await lookup(c.host);
  return { address: r.address, family: r.family === 6 ? 6 : 4, port: c.port, label: `${c.host}:${c.port}` };
}

export class TransportCounters {
  sent = 0;
  sendErrors = 0;
  /** TCP: messages dropped because a collector's queue was over its bound. */
  dropped = 0;
  connects = 0;
}

export interface ExportTransport {
  readonly counters: TransportCounters;
  /** The largest IP + transport header of the paths in use, for sizing messages under the MTU. */
  readonly headerBytes: number;
  send(msg: Buffer): void;
  /** Resolves when the kernel has taken every message given so far (UDP) / when queues are short. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** At most this many UDP sends in flight before drain() waits. */
const UDP_IN_FLIGHT = 64;

export class UdpTransport implements ExportTransport {
  readonly counters = new TransportCounters();
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private lastError = '';

  private constructor(
    private readonly targets: readonly Resolved[],
    private readonly sockets: Map<4 | 6, dgram.Socket>,
    private readonly log: (line: string) => void,
  ) {}

  static async open(collectors: readonly CollectorAddress[], log: (line: string) => void): Promise<UdpTransport> {
    const targets = await Promise.all(collectors.map(resolve));
    const sockets = new Map<4 | 6, dgram.Socket>();
    for (const t of targets) {
      if (sockets.has(t.family)) continue;
      const s = dgram.createSocket(t.family === 6 ? 'udp6' : 'udp4');
      await new Promise<void>((ok, fail) => {
        s.once('error', fail);
        s.bind(0, () => {
          s.off('error', fail);
          ok();
        });
      });
      sockets.set(t.family, s);
    }
    const u = new UdpTransport(targets, sockets, log);
    for (const s of sockets.values()) s.on('error', (err) => u.error(err));
    return u;
  }

  get headerBytes(): number {
    return (this.targets.some((t) => t.family === 6) ? 40 : 20) + 8;
  }

  send(msg: Buffer): void {
    for (const t of this.targets) {
      this.inFlight++;
      this.sockets.get(t.family)!.send(msg, t.port, t.address, (err) => {
        this.inFlight--;
        if (err) this.error(err);
        else this.counters.sent++;
        if (this.inFlight < UDP_IN_FLIGHT / 2) this.wake();
      });
    }
  }

  drain(): Promise<void> {
    if (this.inFlight < UDP_IN_FLIGHT) return Promise.resolve();
    return new Promise((ok) => this.waiters.push(ok));
  }

  async close(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((ok) => this.waiters.push(ok));
    await Promise.all([...this.sockets.values()].map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private error(err: Error): void {
    this.counters.sendErrors++;
    // A collector that is not listening yet answers with ICMP port unreachable; one line per change.
    if (err.message !== this.lastError) {
      this.lastError = err.message;
      this.log(`udp send: ${err.message}`);
    }
    if (this.inFlight < UDP_IN_FLIGHT / 2) this.wake();
  }
}

/** Queued bytes per TCP collector beyond which messages are dropped (counted). */
const TCP_QUEUE_BOUND = 64 * 1024 * 1024;
const TCP_RECONNECT_MS = 5000;

class TcpPeer {
  socket: net.Socket | undefined;
  connected = false;
  queue: Buffer[] = [];
  queuedBytes = 0;
  timer: NodeJS.Timeout | undefined;
  closing = false;
  lastError = '';
  constructor(readonly target: Resolved) {}
}

export class TcpTransport implements ExportTransport {
  readonly counters = new TransportCounters();
  private readonly peers: TcpPeer[];

  constructor(
    targets: readonly Resolved[],
    /** The templates to send first on every connection. */
    private readonly templates: () => Buffer,
    private readonly log: (line: string) => void,
  ) {
    this.peers = targets.map((t) => new TcpPeer(t));
  }

  /** Resolves the collectors; connect() starts the connections. */
  static async open(collectors: readonly CollectorAddress[], templates: () => Buffer, log: (line: string) => void): Promise<TcpTransport> {
    return new TcpTransport(await Promise.all(collectors.map(resolve)), templates, log);
  }

  /** Connects to every collector; resolves once each first attempt has succeeded or failed (at most 5 s). */
  async connect(): Promise<void> {
    for (const p of this.peers) this.connectPeer(p);
    await Promise.all(
      this.peers.map(
        (p) =>
          new Promise<void>((ok) => {
            const s = p.socket!;
            const done = () => {
              clearTimeout(timer);
              s.off('connect', done).off('close', done);
              ok();
            };
            const timer = setTimeout(done, 5000);
            s.once('connect', done).once('close', done);
          }),
      ),
    );
  }

  get headerBytes(): number {
    return (this.peers.some((p) => p.target.family === 6) ? 40 : 20) + 20;
  }

  send(msg: Buffer): void {
    for (const p of this.peers) {
      if (p.connected && p.queue.length === 0 && p.socket!.writableLength < TCP_QUEUE_BOUND) {
        p.socket!.write(msg);
        this.counters.sent++;
      } else if (p.queuedBytes + msg.length <= TCP_QUEUE_BOUND) {
        p.queue.push(msg);
        p.queuedBytes += msg.length;
      } else this.counters.dropped++;
    }
  }

  /** Waits (bounded by the socket's own progress) while any connected peer has a long write queue. */
  async drain(): Promise<void> {
    for (const p of this.peers) {
      if (p.connected && p.socket!.writableNeedDrain) await new Promise<void>((ok) => p.socket!.once('drain', ok).once('close', ok));
    }
  }

  /** Sends what is queued to connected peers, then ends every connection (at most `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.peers.map(
        (p) =>
          new Promise<void>((ok) => {
            p.closing = true;
            if (p.timer !== undefined) clearTimeout(p.timer);
            const s = p.socket;
            if (s === undefined || !p.connected) {
              if (p.queue.length > 0) {
                this.counters.dropped += p.queue.length;
                this.log(`tcp ${p.target.label}: not connected at stop, ${p.queue.length} messages not sent`);
              }
              s?.destroy();
              ok();
              return;
            }
            const t = setTimeout(() => s.destroy(), graceMs);
            s.once('close', () => {
              clearTimeout(t);
              ok();
            });
            s.end();
          }),
      ),
    );
  }

  private connectPeer(p: TcpPeer): void {
    if (p.closing) return;
    const s = net.connect({ host: p.target.address, port: p.target.port, family: p.target.family });
    p.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      p.connected = true;
      p.lastError = '';
      this.counters.connects++;
      this.log(`tcp ${p.target.label}: connected`);
      s.write(this.templates());
      for (const m of p.queue) {
        s.write(m);
        this.counters.sent++;
      }
      p.queue = [];
      p.queuedBytes = 0;
    });
    s.on('error', (err) => {
      this.counters.sendErrors++;
      if (err.message !== p.lastError) {
        p.lastError = err.message;
        this.log(`tcp ${p.target.label}: ${err.message}`);
      }
    });
    s.on('close', () => {
      p.connected = false;
      p.socket = undefined;
      if (!p.closing) p.timer = setTimeout(() => this.connectPeer(p), TCP_RECONNECT_MS);
    });
  }
}

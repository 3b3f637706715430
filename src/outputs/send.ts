import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { BLOCKING_BOUND_BYTES, NONBLOCKING_BOUND_BYTES, countDrop, countLines, newCounters, type Output, type OutputLog } from './output.js';

/** Datagram payload limit for packing lines: stays under a 1500-byte MTU. */
export const UDP_PACK_BYTES = 1400;

export interface SendOutputOptions {
  readonly protocol: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
  readonly blocking: boolean;
  /** Wait between connection attempts (default 5 s). */
  readonly reconnectMs?: number;
  readonly boundBytes?: number;
}

/**
 * `send`: lines to a remote host.
 *
 * TCP: connects, and while the connection is down retries every `reconnectMs`. Lines written while
 * down are dropped and counted (`disconnected`); with `blocking` they are held (up to the blocking
 * bound, then `blocking-bound`) and sent on reconnect. A receiver too slow to take lines drops
 * them past the bound (`overflow`).
 *
 * UDP: whole lines packed into datagrams of at most 1400 bytes; a longer line goes alone in its own
 * datagram (lines over 65507 bytes cannot be sent: `too-large`). Datagrams the kernel refuses count
 * as `send-error`.
 */
export class SendOutput implements Output {
  readonly counters = newCounters();
  private socket: Socket | undefined;
  private connected = false;
  private udp: UdpSocket | undefined;
  private udpQueued = 0;
  private retry: NodeJS.Timeout | undefined;
  private closing = false;
  /** Held while disconnected (blocking only). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly bound: number;
  private readonly reconnectMs: number;
  private lastError = '';

  constructor(
    readonly name: string,
    private readonly opts: SendOutputOptions,
    private readonly log: OutputLog = () => {},
  ) {
    this.bound = opts.boundBytes ?? (opts.blocking ? BLOCKING_BOUND_BYTES : NONBLOCKING_BOUND_BYTES);
    this.reconnectMs = opts.reconnectMs ?? 5000;
  }

  get isConnected(): boolean {
    return this.opts.protocol === 'udp' ? this.udp !== undefined : this.connected;
  }

  async open(): Promise<void> {
    if (this.opts.protocol === 'udp') {
      const s = createSocket(this.opts.host.includes(':') ? 'udp6' : 'udp4');
      s.on('error', (err) => this.log('warn', `${this.name}: ${err.message}`));
      s.unref();
      this.udp = s;
      return;
    }
    // TCP connects in the background: a receiver that is down must not stop the collector starting.
    this.connect();
  }

  private connect(): void {
    this.retry = undefined;
    if (this.closing) return;
    const s = connect({ host: this.opts.host, port: this.opts.port });
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connected = true;
      this.lastError = '';
      this.log('info', `${this.name}: connected`);
      const held = this.held;
      this.held = [];
      this.heldBytes = 0;
      for (const b of held) this.write(b);
    });
    s.on('data', () => {});
    s.on('error', (err) => {
      if (err.message !== this.lastError) this.log('warn', `${this.name}: ${err.message}; retrying every ${this.reconnectMs / 1000} s`);
      this.lastError = err.message;
    });
    s.on('end', () => s.end());
    s.on('close', () => {
      const was = this.connected;
      this.connected = false;
      if (this.socket === s) this.socket = undefined;
      if (was) this.log('warn', `${this.name}: connection lost; retrying every ${this.reconnectMs / 1000} s`);
      if (!this.closing && this.retry === undefined) {
        this.retry = setTimeout(() => this.connect(), this.reconnectMs);
        this.retry.unref();
      }
    });
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.closing) return countDrop(this.counters, bytes, 'closed');
    if (this.opts.protocol === 'udp') return this.sendUdp(bytes);
    const s = this.socket;
    if (!this.connected || s === undefined) {
      if (!this.opts.blocking) return countDrop(this.counters, bytes, 'disconnected');
      if (this.heldBytes + bytes.length > this.bound) return countDrop(this.counters, bytes, 'blocking-bound');
      this.held.push(bytes);
      this.heldBytes += bytes.length;
      return;
    }
    if (s.writableLength > this.bound) return countDrop(this.counters, bytes, this.opts.blocking ? 'blocking-bound' : 'overflow');
    s.write(bytes);
    this.counters.written += countLines(bytes);
  }

  private sendUdp(bytes: Buffer): void {
    const s = this.udp;
    if (s === undefined) return countDrop(this.counters, bytes, 'disconnected');
    let start = 0; // first line of the datagram being packed
    let pos = 0;
    let lines = 0;
    const n = bytes.length;
    while (pos < n) {
      let nl = bytes.indexOf(10, pos);
      if (nl < 0) nl = n - 1; // no final newline: treat the rest as a line
      const end = nl + 1;
      if (end - start > UDP_PACK_BYTES && lines > 0) {
        this.datagram(s, bytes.subarray(start, pos), lines);
        start = pos;
        lines = 0;
      }
      lines++;
      pos = end;
      if (end - start > UDP_PACK_BYTES) {
        // A single line longer than the packing size: alone in its datagram.
        this.datagram(s, bytes.subarray(start, end), 1);
        start = end;
        lines = 0;
      }
    }
    if (lines > 0) this.datagram(s, bytes.subarray(start, n), lines);
  }

  private datagram(s: UdpSocket, d: Buffer, lines: number): void {
    if (d.length > 65_507) return countDrop(this.counters, d, 'too-large');
    if (this.udpQueued > this.bound) return countDrop(this.counters, d, this.opts.blocking ? 'blocking-bound' : 'overflow');
    this.udpQueued += d.length;
    s.send(d, this.opts.port, this.opts.host, (err) => {
      this.udpQueued -= d.length;
      if (err) {
        this.counters.written -= lines;
        countDrop(this.counters, d, 'send-error');
      }
    });
    this.counters.written += lines;
  }

  /** Sends what is queued (TCP: up to 5 s), then closes. Lines still held while disconnected are counted as dropped. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    for (const b of this.held) countDrop(this.counters, b, 'disconnected');
    this.held = [];
    const u = this.udp;
    if (u) {
      this.udp = undefined;
      // Let queued sends complete (bounded), then close.
      for (let i = 0; i < 100 && this.udpQueued > 0; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise<void>((resolve) => u.close(() => resolve()));
    }
    const s = this.socket;
    if (s && !s.destroyed && !this.connected) s.destroy();
    else if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, 5000);
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        s.end();
      });
    }
  }
}

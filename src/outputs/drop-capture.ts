/**
 * Keeps the datagrams that caused a drop, as pcap files anyone can open with tshark or Wireshark:
 * each payload inside synthesised Ethernet / IPv4-or-IPv6 / UDP headers carrying the exporter's
 * address and port (source) and the port it was received on (destination), stamped with the
 * receive time.
 *
 * Bounded: files of at most `maxFileBytes`, at most `maxFiles` of them (the oldest is deleted when
 * a new one starts), at most `maxQueueBytes` waiting for the disk. capture() never blocks and never
 * throws: what cannot be kept is counted by reason.
 */
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../model/contracts.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { ethernetIpv4Udp, ethernetIpv6Udp } from '../wire/packet/build.js';
import { parseIp } from '../wire/packet/addr.js';
import { writePcap } from '../wire/pcap/write.js';

/** One datagram that caused a drop, and where it came from (the fields of its TransportSession). */
export interface DroppedDatagram {
  readonly payload: Buffer;
  /** The exporter's address (IPv4, IPv6, or IPv4-mapped IPv6 as a dual-stack socket reports it). */
  readonly address: string;
  readonly port: number;
  /** The collector's port it arrived on. */
  readonly localPort: number;
  /** Receive time, ms since the epoch. */
  readonly receivedMs: number;
}

export interface DropCaptureOptions {
  readonly dir: string;
  /** Files are `<prefix>-<n>.pcap`, n counting up across restarts. Default "drops". */
  readonly prefix?: string;
  /** Bytes per file, pcap header included; at least 128 KiB so any datagram fits. Default 16 MiB. */
  readonly maxFileBytes?: number;
  /** Files kept. Default 8. */
  readonly maxFiles?: number;
  /** Bytes waiting for the disk; beyond, datagrams are counted as `overflow`. Default 4 MiB. */
  readonly maxQueueBytes?: number;
  /** Destination address of the synthesised headers (the collector's address is not known per datagram). */
  readonly localAddress4?: string;
  readonly localAddress6?: string;
  readonly log?: Log;
  /** Clock for the pause after a failed write; default Date.now. */
  readonly now?: () => number;
}

export interface DropCaptureCounters {
  /** Datagrams written to a file. */
  written: number;
  /** File bytes written, headers included. */
  bytes: number;
  /** Files started. */
  files: number;
  /** Datagrams not kept because the queue was full (the disk is slower than the drops). */
  overflow: number;
  /** Datagrams not kept because a file could not be opened or written. */
  failed: number;
  /** Datagrams captured after stop(). */
  stopped: number;
  /** Datagrams longer than a UDP payload can be: written cut, with their real length in the record. */
  cut: number;
  /** Datagrams whose exporter address was not an IP address: written with 0.0.0.0. */
  unaddressed: number;
}

const MIN_FILE_BYTES = 128 * 1024;
const PCAP_HEADER_BYTES = 24;
/** Largest UDP payload in one IPv4 / IPv6 packet. */
const MAX_UDP4 = 65535 - 20 - 8;
const MAX_UDP6 = 65535 - 8;
/** After a failed write, datagrams are counted as failed without touching the disk for this long. */
const FAILURE_PAUSE_MS = 1000;

export class DropCapture {
  readonly counters: DropCaptureCounters = { written: 0, bytes: 0, files: 0, overflow: 0, failed: 0, stopped: 0, cut: 0, unaddressed: 0 };
  private readonly prefix: string;
  private readonly maxFileBytes: number;
  private readonly maxFiles: number;
  private readonly maxQueueBytes: number;
  private readonly local4: string;
  private readonly local6: string;
  private readonly now: () => number;
  private readonly warn: RateLimitedLog | undefined;
  /** pcap records waiting for the disk. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | undefined;
  private file: FileHandle | undefined;
  private fileBytes = 0;
  /** Numbers of this capture's files on disk, oldest first; undefined until the directory was read. */
  private numbers: number[] | undefined;
  private pausedUntil = 0;
  private closed = false;

  /** Throws RangeError on unusable options (configuration is checked at the edge). */
  constructor(private readonly opts: DropCaptureOptions) {
    this.prefix = opts.prefix ?? 'drops';
    if (!/^[\w.-]+$/.test(this.prefix)) throw new RangeError(`drop capture prefix "${this.prefix}" must be letters, digits, '.', '_' or '-'`);
    this.maxFileBytes = opts.maxFileBytes ?? 16 * 1024 * 1024;
    this.maxFiles = opts.maxFiles ?? 8;
    this.maxQueueBytes = opts.maxQueueBytes ?? 4 * 1024 * 1024;
    if (!(Number.isInteger(this.maxFileBytes) && this.maxFileBytes >= MIN_FILE_BYTES)) throw new RangeError(`maxFileBytes must be an integer >= ${MIN_FILE_BYTES}`);
    if (!(Number.isInteger(this.maxFiles) && this.maxFiles >= 1)) throw new RangeError('maxFiles must be a positive integer');
    if (!(Number.isInteger(this.maxQueueBytes) && this.maxQueueBytes >= 0)) throw new RangeError('maxQueueBytes must be an integer >= 0');
    this.local4 = opts.localAddress4 ?? '0.0.0.0';
    this.local6 = opts.localAddress6 ?? '::';
    if (parseIp(this.local4)?.length !== 4) throw new RangeError(`localAddress4 "${this.local4}" is not an IPv4 address`);
    if (parseIp(this.local6)?.length !== 16) throw new RangeError(`localAddress6 "${this.local6}" is not an IPv6 address`);
    this.now = opts.now ?? Date.now;
    const log = opts.log;
    this.warn = log === undefined ? undefined : new RateLimitedLog((msg, suppressed) => log.warn({ dir: opts.dir, suppressed }, msg), 60_000);
  }

  /** Keeps one datagram (a copy: the caller may reuse its buffer). Never blocks, never throws. */
  capture(d: DroppedDatagram): void {
    try {
      if (this.closed) {
        this.counters.stopped++;
        return;
      }
      if (this.pausedUntil > 0 && this.now() < this.pausedUntil) {
        this.counters.failed++;
        return;
      }
      const record = this.record(d);
      if (this.queuedBytes + record.length > this.maxQueueBytes) {
        this.counters.overflow++;
        return;
      }
      this.queue.push(record);
      this.queuedBytes += record.length;
      this.kick();
    } catch (err) {
      this.counters.failed++;
      this.warn?.log('build', `drop capture: datagram not kept: ${(err as Error).message}`);
    }
  }

  /** Resolves when everything queued so far is on disk (or counted as failed). */
  async flush(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  /** Writes what is queued, closes the file; later captures are counted as `stopped`. */
  async stop(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.closeFile();
  }

  /** Starts writing unless a write is under way; a record queued as one ends is picked up after it. */
  private kick(): void {
    if (this.draining !== undefined) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  /** The pcap record (16-byte record header and frame) of one datagram. */
  private record(d: DroppedDatagram): Buffer {
    let address = d.address;
    if (address.startsWith('::ffff:') && address.includes('.')) address = address.slice(7);
    let ip = parseIp(address);
    if (ip === undefined) {
      this.counters.unaddressed++;
      address = '0.0.0.0';
      ip = Buffer.alloc(4);
    }
    const v4 = ip.length === 4;
    const max = v4 ? MAX_UDP4 : MAX_UDP6;
    let payload = d.payload;
    if (payload.length > max) {
      this.counters.cut++;
      payload = payload.subarray(0, max);
    }
    const udp = { src: address, dst: v4 ? this.local4 : this.local6, srcPort: d.port & 0xffff, dstPort: d.localPort & 0xffff, payload };
    const frame = v4 ? ethernetIpv4Udp(udp) : ethernetIpv6Udp(udp);
    const origLength = frame.length + (d.payload.length - payload.length);
    const tsMs = Number.isFinite(d.receivedMs) && d.receivedMs >= 0 ? d.receivedMs : 0;
    // writePcap returns header + record; the record alone is what a running file needs.
    return writePcap([{ tsMs, data: frame, origLength }]).subarray(PCAP_HEADER_BYTES);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      let batch: Buffer[] = [];
      try {
        if (this.file === undefined || this.fileBytes + this.queue[0]!.length > this.maxFileBytes) await this.rotate();
        let n = 0;
        let bytes = 0;
        while (n < this.queue.length && this.fileBytes + bytes + this.queue[n]!.length <= this.maxFileBytes) bytes += this.queue[n++]!.length;
        batch = this.queue.splice(0, n);
        this.queuedBytes -= bytes;
        await this.file!.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes));
        this.fileBytes += bytes;
        this.counters.written += batch.length;
        this.counters.bytes += bytes;
      } catch (err) {
        // Everything waiting goes with the failed write: a full or gone disk does not heal at once.
        this.counters.failed += batch.length + this.queue.length;
        this.queue = [];
        this.queuedBytes = 0;
        this.pausedUntil = this.now() + FAILURE_PAUSE_MS;
        this.warn?.log('write', `drop capture: write failed, datagrams not kept: ${(err as Error).message}`);
        await this.closeFile();
        return;
      }
    }
    this.pausedUntil = 0;
  }

  /** Closes the current file, starts the next and deletes the oldest beyond `maxFiles`. */
  private async rotate(): Promise<void> {
    await this.closeFile();
    const numbers = this.numbers ?? (this.numbers = await this.existing());
    const n = numbers.length > 0 ? numbers[numbers.length - 1]! + 1 : 1;
    const fh = await open(this.pathOf(n), 'wx', 0o644);
    try {
      const header = writePcap([]);
      await fh.write(header);
      this.file = fh;
      this.fileBytes = header.length;
      this.counters.files++;
      this.counters.bytes += header.length;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    numbers.push(n);
    while (numbers.length > this.maxFiles) await unlink(this.pathOf(numbers.shift()!)).catch(() => undefined);
  }

  /** This capture's files already in the directory (an earlier run's), by number. */
  private async existing(): Promise<number[]> {
    await mkdir(this.opts.dir, { recursive: true });
    const re = new RegExp(`^${this.prefix.replace(/[.]/g, '\\.')}-(\\d+)\\.pcap$`);
    const out: number[] = [];
    for (const name of await readdir(this.opts.dir)) {
      const m = re.exec(name);
      if (m !== null) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  private pathOf(n: number): string {
    return join(this.opts.dir, `${this.prefix}-${String(n).padStart(6, '0')}.pcap`);
  }

  private async closeFile(): Promise<void> {
    const fh = this.file;
    this.file = undefined;
    if (fh !== undefined) await fh.close().catch(() => undefined);
  }
}

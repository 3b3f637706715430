/**
 * Bounded IPv4 and IPv6 fragment reassembly for captures.
 *
 * Large NetFlow v9 / IPFIX / sFlow datagrams often cross the path MTU and reach a capture as
 * fragments; decoding them needs the whole datagram back. This reassembler keeps pending
 * datagrams keyed as RFC 791 and RFC 8200 say (IPv4: source, destination, protocol,
 * identification; IPv6: source, destination, identification), with hard limits on their number
 * and bytes. Time comes only from the capture timestamps passed in: it owns no timer, so replaying
 * a file gives the same result at any speed.
 *
 * Overlaps: an exact repeat of a fragment (a capture that saw it twice) is ignored; any other
 * overlap drops the whole datagram, as RFC 5722 requires for IPv6 and Linux does for IPv4, because
 * overlapping fragments are an evasion technique and there is no right way to merge them.
 */
import { internetChecksum } from './checksum.js';
import type { PacketLayers } from './parse.js';

export interface ReassemblerOptions {
  /** Most datagrams pending at once; the oldest is dropped to make room. Default 1024. */
  readonly maxDatagrams?: number;
  /** Most fragment bytes held at once; oldest datagrams are dropped to get under it. Default 16 MiB. */
  readonly maxBytes?: number;
  /** A datagram still incomplete this long after its first fragment is dropped. Default 30 000 (Linux ipfrag_time). */
  readonly timeoutMs?: number;
}

export interface ReassemblerStats {
  /** Datagrams returned whole. */
  completed: number;
  /** Datagrams dropped for the timeout. */
  expired: number;
  /** Datagrams dropped for the count or byte limit. */
  evicted: number;
  /** Datagrams dropped as malformed: overlaps, conflicting ends, beyond 65535 bytes. */
  malformed: number;
  /** Fragments ignored: exact repeats, or cut short by the capture. */
  ignoredFragments: number;
}

interface Piece {
  readonly start: number;
  readonly data: Buffer;
}

interface Pending {
  readonly key: string;
  readonly firstTsMs: number;
  readonly version: 4 | 6;
  /** IPv4 header with options / IPv6 header up to the Fragment header, from the offset-0 fragment. */
  header: Buffer | undefined;
  /** IPv6: position in `header` of the next-header byte that named the Fragment header. */
  nextHeaderField: number;
  /** IPv6: the Fragment header's next header, which that byte takes in the whole datagram. */
  nextHeader: number;
  readonly pieces: Piece[];
  /** Length of the fragmentable part, known once the last fragment (more = 0) arrived; -1 before. */
  total: number;
  received: number;
  bytes: number;
}

/** Largest IP datagram: the 16-bit IPv4 total length, or 40 + the 16-bit IPv6 payload length. */
const MAX_V4 = 65535;
const MAX_V6_PAYLOAD = 65535;

export class IpReassembler {
  readonly stats: ReassemblerStats = { completed: 0, expired: 0, evicted: 0, malformed: 0, ignoredFragments: 0 };
  private readonly maxDatagrams: number;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  /** Insertion order is arrival order of first fragments, which is what expiry and eviction walk. */
  private readonly pending = new Map<string, Pending>();
  private heldBytes = 0;
  private latestTsMs = -Infinity;

  constructor(options: ReassemblerOptions = {}) {
    this.maxDatagrams = Math.max(1, options.maxDatagrams ?? 1024);
    this.maxBytes = Math.max(0, options.maxBytes ?? 16 * 1024 * 1024);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Datagrams waiting for fragments. */
  get pendingDatagrams(): number {
    return this.pending.size;
  }

  /** Fragment bytes held. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /**
   * Offers one fragment: `frame` holds it and `l` is its dissection (l.isFragment must be true).
   * Returns the whole IP datagram (a new Buffer, header first, fragment fields cleared) when this
   * fragment completes one, else undefined. `tsMs` is the capture time; it defaults to the latest
   * time seen.
   */
  push(frame: Buffer, l: PacketLayers, tsMs?: number): Buffer | undefined {
    if (tsMs !== undefined && tsMs > this.latestTsMs) this.latestTsMs = tsMs;
    const now = tsMs ?? this.latestTsMs;
    this.expire(now);
    if (!l.isFragment || l.ipVersion === 0) return undefined;
    // A fragment the capture cut short cannot contribute its bytes.
    if (l.ipEnd < l.ipOffset + l.ipTotalLength) {
      this.stats.ignoredFragments++;
      return undefined;
    }

    const v4 = l.ipVersion === 4;
    const dataStart = v4 ? l.ipOffset + l.ipHeaderLength : l.fragHeaderOffset + 8;
    if (dataStart > l.ipEnd) {
      this.stats.ignoredFragments++;
      return undefined;
    }
    // The key as raw bytes in a latin1 string: cheap to build, exact, and a valid Map key.
    const key = v4
      ? '4' + frame.toString('latin1', l.srcAddrOffset, l.srcAddrOffset + 8) + String.fromCharCode(l.protocol) + l.fragId
      : '6' + frame.toString('latin1', l.srcAddrOffset, l.srcAddrOffset + 32) + l.fragId;

    let d = this.pending.get(key);
    if (d === undefined) {
      if (this.pending.size >= this.maxDatagrams) this.evictOldest();
      d = { key, firstTsMs: now, version: l.ipVersion, header: undefined, nextHeaderField: -1, nextHeader: -1, pieces: [], total: -1, received: 0, bytes: 0 };
      this.pending.set(key, d);
    }

    const start = l.fragOffset;
    const length = l.ipEnd - dataStart;
    const end = start + length;
    const headerLength = v4 ? l.ipHeaderLength : l.fragHeaderOffset - l.ipOffset;
    const tooLong = v4 ? headerLength + end > MAX_V4 : headerLength - 40 + end > MAX_V6_PAYLOAD;
    // Every fragment but the last carries a multiple of 8 bytes, or the next offset could not follow it.
    if (tooLong || (l.moreFragments && length % 8 !== 0) || (l.moreFragments && length === 0)) {
      return this.malformed(d);
    }
    for (const piece of d.pieces) {
      const pieceEnd = piece.start + piece.data.length;
      if (start < pieceEnd && piece.start < end) {
        if (piece.start === start && pieceEnd === end) {
          this.stats.ignoredFragments++;
          return undefined;
        }
        return this.malformed(d);
      }
    }
    if (!l.moreFragments) {
      if (d.total >= 0 && d.total !== end) return this.malformed(d);
      d.total = end;
    }
    if (d.total >= 0 && (end > d.total || d.received + length > d.total)) return this.malformed(d);

    const data = Buffer.from(frame.subarray(dataStart, l.ipEnd)); // copy: the frame may be a reused buffer
    d.pieces.push({ start, data });
    d.received += length;
    let bytes = data.length;
    if (start === 0) {
      d.header = Buffer.from(frame.subarray(l.ipOffset, l.ipOffset + headerLength));
      bytes += headerLength;
      if (!v4) {
        d.nextHeaderField = l.fragNextHeaderField - l.ipOffset;
        d.nextHeader = frame[l.fragHeaderOffset]!;
      }
    }
    d.bytes += bytes;
    this.heldBytes += bytes;

    if (d.header !== undefined && d.total >= 0 && d.received === d.total) {
      this.remove(d);
      this.stats.completed++;
      return assemble(d);
    }
    while (this.heldBytes > this.maxBytes && this.pending.size > 0) this.evictOldest();
    return undefined;
  }

  private expire(now: number): void {
    // First fragments arrive in time order (give or take a capture's reordering), so the walk
    // stops at the first datagram still within its time.
    for (const d of this.pending.values()) {
      if (now - d.firstTsMs <= this.timeoutMs) break;
      this.remove(d);
      this.stats.expired++;
    }
  }

  private evictOldest(): void {
    const first = this.pending.values().next();
    if (first.done === true) return;
    this.remove(first.value);
    this.stats.evicted++;
  }

  private malformed(d: Pending): undefined {
    this.remove(d);
    this.stats.malformed++;
    return undefined;
  }

  private remove(d: Pending): void {
    if (this.pending.delete(d.key)) this.heldBytes -= d.bytes;
  }
}

/** Name kept for callers that think of IPv4 first; the same class reassembles IPv6. */
export { IpReassembler as Ipv4Reassembler };

/** Concatenates the header and the pieces and fixes the header to describe an unfragmented datagram. */
function assemble(d: Pending): Buffer {
  const header = d.header!;
  const out = Buffer.alloc(header.length + d.total);
  header.copy(out, 0);
  for (const piece of d.pieces) piece.data.copy(out, header.length + piece.start);
  if (d.version === 4) {
    out.writeUInt16BE(out.length, 2);
    out.writeUInt16BE(out.readUInt16BE(6) & 0x4000, 6); // keep DF, clear MF and the offset
    out.writeUInt16BE(0, 10);
    out.writeUInt16BE(internetChecksum(out, 0, header.length), 10);
  } else {
    out.writeUInt16BE(out.length - 40, 4);
    out[d.nextHeaderField] = d.nextHeader;
  }
  return out;
}

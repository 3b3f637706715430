import { SluiceError } from '../../util/errors.js';
/**
 * Reader for libpcap ("pcap") and pcapng capture files held in memory.
 *
 * Formats: draft-ietf-opsawg-pcap (pcap) and draft-ietf-opsawg-pcapng (pcapng). Both are read
 * straight from the Buffer; each frame's data is a subarray, so a frame costs one small object.
 *
 * Corrupt input must never read out of bounds or loop: every length is checked against the bytes
 * that remain before it is used, and every step moves the cursor forward by at least one header.
 * On the first structural error the generator throws CaptureFormatError (carrying the byte offset)
 * after having yielded every frame before it, so a truncated capture still gives its good frames.
 */

export interface CapturedFrame {
  /**
   * Capture time in milliseconds since the Unix epoch; fractional digits carry the sub-millisecond
   * part (a double holds about 0.25 µs at today's dates). pcapng Simple Packet Blocks have no
   * timestamp: they get the time of the frame before them (0 when there is none).
   */
  readonly tsMs: number;
  /** LINKTYPE_ value (tcpdump.org/linktypes.html): 1 Ethernet, 101 raw IP, 113 Linux SLL, … */
  readonly linkType: number;
  /** The captured bytes: a subarray of the input, not a copy. */
  readonly data: Buffer;
  /** The frame's length on the wire; larger than data.length when the capture cut it (snaplen). */
  readonly origLength: number;
  /** pcapng: the interface's index within its section; pcap: always 0. */
  readonly interfaceId: number;
}

export class CaptureFormatError extends SluiceError {
  /** Byte offset in the input of the header or block that is corrupt. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('capture-format', `${message} (at byte offset ${offset})`, { offset });
    this.offset = offset;
  }
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

const PCAP_FILE_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
/**
 * Largest captured length accepted from a pcap record when the file's snaplen is smaller. Writers
 * do not always honour their own snaplen, so a record may exceed it; libpcap and Wireshark cap such
 * records at 256 KiB and call anything larger corrupt, which keeps a lying length from swallowing
 * the rest of the file as one "frame".
 */
const MAX_RECORD = 262144;

/** Which capture format `buf` starts with, by its magic number; undefined when neither. */
export function captureKind(buf: Buffer): 'pcap' | 'pcapng' | undefined {
  if (buf.length < 4) return undefined;
  const le = buf.readUInt32LE(0);
  const be = buf.readUInt32BE(0);
  if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS || be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) return 'pcap';
  if (le === PCAPNG_SHB) return 'pcapng';
  return undefined;
}

/** Every frame of a pcap or pcapng capture, in file order. */
export function* readCapture(buf: Buffer): Generator<CapturedFrame> {
  const kind = captureKind(buf);
  if (kind === 'pcap') yield* readPcap(buf);
  else if (kind === 'pcapng') yield* readPcapng(buf);
  else throw new CaptureFormatError('not a pcap or pcapng capture: unknown magic number', 0);
}

// ---------------------------------------------------------------------------------------------
// pcap

function* readPcap(buf: Buffer): Generator<CapturedFrame> {
  if (buf.length < PCAP_FILE_HEADER) {
    throw new CaptureFormatError(`pcap file header is truncated: ${buf.length} of ${PCAP_FILE_HEADER} bytes`, 0);
  }
  const magicLe = buf.readUInt32LE(0);
  const le = magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS;
  const magic = le ? magicLe : buf.readUInt32BE(0);
  const u32 = le ? (o: number) => buf.readUInt32LE(o) : (o: number) => buf.readUInt32BE(o);
  // Fraction units per millisecond: 1000 µs or 1 000 000 ns.
  const fracPerMs = magic === PCAP_MAGIC_NS ? 1e6 : 1e3;
  const snaplen = u32(16);
  // The upper bits of the link-type word carry FCS information; the type is the low 16 bits.
  const linkType = u32(20) & 0xffff;
  const maxCaplen = Math.max(snaplen, MAX_RECORD);

  let off = PCAP_FILE_HEADER;
  while (off < buf.length) {
    if (buf.length - off < PCAP_RECORD_HEADER) {
      throw new CaptureFormatError(`pcap record header is truncated: ${buf.length - off} of ${PCAP_RECORD_HEADER} bytes`, off);
    }
    const sec = u32(off);
    const frac = u32(off + 4);
    const caplen = u32(off + 8);
    const origLength = u32(off + 12);
    if (caplen > maxCaplen) {
      throw new CaptureFormatError(`pcap record captured length ${caplen} exceeds the limit ${maxCaplen}`, off);
    }
    const start = off + PCAP_RECORD_HEADER;
    if (caplen > buf.length - start) {
      throw new CaptureFormatError(`pcap record data is truncated: ${buf.length - start} of ${caplen} bytes`, off);
    }
    yield { tsMs: sec * 1000 + frac / fracPerMs, linkType, data: buf.subarray(start, start + caplen), origLength, interfaceId: 0 };
    off = start + caplen;
  }
}

// ---------------------------------------------------------------------------------------------
// pcapng

const BT_IDB = 1;
const BT_OPB = 2; // obsolete Packet Block, still written by old tools
const BT_SPB = 3;
const BT_EPB = 6;

const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

interface Interface {
  readonly linkType: number;
  /** 0 means no limit. */
  readonly snaplen: number;
  /** Timestamp units per millisecond (1000 for the default microseconds). */
  readonly unitsPerMs: number;
  /** if_tsoffset in milliseconds, added to every timestamp. */
  readonly offsetMs: number;
}

/** Byte-order aware reads for one section. */
interface Endian {
  u16(o: number): number;
  u32(o: number): number;
  i64(o: number): number;
}

function endian(buf: Buffer, little: boolean): Endian {
  return little
    ? { u16: (o) => buf.readUInt16LE(o), u32: (o) => buf.readUInt32LE(o), i64: (o) => buf.readInt32LE(o + 4) * 4294967296 + buf.readUInt32LE(o) }
    : { u16: (o) => buf.readUInt16BE(o), u32: (o) => buf.readUInt32BE(o), i64: (o) => buf.readInt32BE(o) * 4294967296 + buf.readUInt32BE(o + 4) };
}

function* readPcapng(buf: Buffer): Generator<CapturedFrame> {
  let e: Endian | undefined;
  let interfaces: Interface[] = [];
  let lastTsMs = 0;
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 12) {
      throw new CaptureFormatError(`pcapng block header is truncated: ${buf.length - off} of 12 bytes`, off);
    }
    let type = buf.readUInt32LE(off); // SHB's type reads the same in both orders
    if (type === PCAPNG_SHB) {
      // A new section may change the byte order; the byte-order magic follows the length.
      const bom = buf.readUInt32LE(off + 8);
      if (bom === PCAPNG_BOM) e = endian(buf, true);
      else if (bom === 0x4d3c2b1a) e = endian(buf, false);
      else throw new CaptureFormatError(`pcapng section header has an unknown byte-order magic 0x${bom.toString(16)}`, off);
      interfaces = [];
    } else if (e === undefined) {
      throw new CaptureFormatError('pcapng file does not start with a section header block', off);
    } else {
      type = e.u32(off);
    }
    const len = e.u32(off + 4);
    if (len < 12 || len % 4 !== 0) {
      throw new CaptureFormatError(`pcapng block length ${len} is invalid (must be a multiple of 4, at least 12)`, off);
    }
    if (len > buf.length - off) {
      throw new CaptureFormatError(`pcapng block is truncated: ${buf.length - off} of ${len} bytes`, off);
    }
    if (e.u32(off + len - 4) !== len) {
      throw new CaptureFormatError(`pcapng block's trailing length ${e.u32(off + len - 4)} differs from its leading length ${len}`, off);
    }
    const body = off + 8;
    const bodyEnd = off + len - 4;

    switch (type) {
      case PCAPNG_SHB: {
        if (bodyEnd - body < 16) throw new CaptureFormatError(`pcapng section header block is too short (${len} bytes)`, off);
        const major = e.u16(body + 4);
        if (major !== 1) throw new CaptureFormatError(`pcapng major version ${major} is not supported`, off);
        break;
      }
      case BT_IDB: {
        if (bodyEnd - body < 8) throw new CaptureFormatError(`pcapng interface description block is too short (${len} bytes)`, off);
        interfaces.push(readInterface(buf, e, body, bodyEnd, off));
        break;
      }
      case BT_EPB:
      case BT_OPB: {
        // EPB: interface u32, ts high, ts low, caplen, origlen. OPB: interface u16, drops u16, then the same.
        if (bodyEnd - body < 20) throw new CaptureFormatError(`pcapng packet block is too short (${len} bytes)`, off);
        const interfaceId = type === BT_EPB ? e.u32(body) : e.u16(body);
        const ifc = interfaces[interfaceId];
        if (ifc === undefined) {
          throw new CaptureFormatError(`pcapng packet block names interface ${interfaceId}, but the section has ${interfaces.length}`, off);
        }
        const caplen = e.u32(body + 12);
        const start = body + 20;
        if (caplen > bodyEnd - start) {
          throw new CaptureFormatError(`pcapng packet block's captured length ${caplen} exceeds the block (${bodyEnd - start} bytes)`, off);
        }
        // Summing the two halves separately keeps precision that high * 2^32 + low would lose for ns units.
        const tsMs = e.u32(body + 4) * (4294967296 / ifc.unitsPerMs) + e.u32(body + 8) / ifc.unitsPerMs + ifc.offsetMs;
        lastTsMs = tsMs;
        yield { tsMs, linkType: ifc.linkType, data: buf.subarray(start, start + caplen), origLength: e.u32(body + 16), interfaceId };
        break;
      }
      case BT_SPB: {
        if (bodyEnd - body < 4) throw new CaptureFormatError(`pcapng simple packet block is too short (${len} bytes)`, off);
        const ifc = interfaces[0];
        if (ifc === undefined) throw new CaptureFormatError('pcapng simple packet block comes before any interface description', off);
        const origLength = e.u32(body);
        // The captured length is implied: the original length cut by the snaplen and the block.
        let caplen = Math.min(origLength, bodyEnd - body - 4);
        if (ifc.snaplen !== 0) caplen = Math.min(caplen, ifc.snaplen);
        yield { tsMs: lastTsMs, linkType: ifc.linkType, data: buf.subarray(body + 4, body + 4 + caplen), origLength, interfaceId: 0 };
        break;
      }
      default:
        // Name resolution, statistics, decryption secrets, custom and unknown blocks: skipped by length.
        break;
    }
    off += len;
  }
}

/** Reads an Interface Description Block body: link type, snaplen, and the timestamp options. */
function readInterface(buf: Buffer, e: Endian, body: number, bodyEnd: number, blockOff: number): Interface {
  const linkType = e.u16(body);
  const snaplen = e.u32(body + 4);
  let unitsPerMs = 1000;
  let offsetMs = 0;
  let o = body + 8;
  // Options: code u16, length u16, value padded to 4 bytes; opt_endofopt or the block end stops.
  while (bodyEnd - o >= 4) {
    const code = e.u16(o);
    const olen = e.u16(o + 2);
    if (code === OPT_ENDOFOPT) break;
    const value = o + 4;
    if (olen > bodyEnd - value) {
      throw new CaptureFormatError(`pcapng interface option ${code} of length ${olen} overruns its block`, blockOff);
    }
    if (code === IF_TSRESOL && olen >= 1) {
      // High bit clear: 10^-v seconds per unit; set: 2^-v.
      const v = buf[value]!;
      const unitsPerSecond = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      unitsPerMs = unitsPerSecond / 1000;
    } else if (code === IF_TSOFFSET && olen >= 8) {
      offsetMs = e.i64(value) * 1000;
    }
    o = value + ((olen + 3) & ~3);
  }
  return { linkType, snaplen, unitsPerMs, offsetMs };
}

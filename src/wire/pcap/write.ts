/**
 * Writers for pcap and pcapng captures, little-endian, as tcpdump and Wireshark write them on x86.
 * They serve tests and the probe; the reader accepts more (both byte orders, several sections).
 */

export interface FrameToWrite {
  /** Capture time in ms since the Unix epoch; fractional digits are kept to the file's resolution. */
  readonly tsMs: number;
  readonly data: Buffer;
  /** Length on the wire; defaults to data.length. Set it larger to write a snaplen-cut frame. */
  readonly origLength?: number;
}

const SNAPLEN = 262144;

/** Splits a ms timestamp into whole seconds and a fraction in `unitsPerSecond`, rounding to the nearest unit. */
function splitTime(tsMs: number, unitsPerSecond: number): [number, number] {
  if (!Number.isFinite(tsMs) || tsMs < 0) throw new RangeError(`timestamp ${tsMs} ms cannot be written`);
  let sec = Math.floor(tsMs / 1000);
  let frac = Math.round((tsMs - sec * 1000) * (unitsPerSecond / 1000));
  if (frac >= unitsPerSecond) {
    sec += 1;
    frac -= unitsPerSecond;
  }
  return [sec, frac];
}

/**
 * A pcap file (magic 0xa1b2c3d4, or 0xa1b23c4d with `nanos`), version 2.4, snaplen 262144.
 * `linkType` defaults to 1 (Ethernet).
 */
export function writePcap(frames: readonly FrameToWrite[], linkType = 1, nanos = false): Buffer {
  let size = 24;
  for (const f of frames) size += 16 + f.data.length;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  // thiszone and sigfigs stay 0, as the format now requires.
  out.writeUInt32LE(SNAPLEN, 16);
  out.writeUInt32LE(linkType, 20);
  let off = 24;
  const unitsPerSecond = nanos ? 1e9 : 1e6;
  for (const f of frames) {
    const [sec, frac] = splitTime(f.tsMs, unitsPerSecond);
    if (sec > 0xffffffff) throw new RangeError(`timestamp ${f.tsMs} ms is past the pcap 32-bit seconds range`);
    out.writeUInt32LE(sec, off);
    out.writeUInt32LE(frac, off + 4);
    out.writeUInt32LE(f.data.length, off + 8);
    out.writeUInt32LE(f.origLength ?? f.data.length, off + 12);
    f.data.copy(out, off + 16);
    off += 16 + f.data.length;
  }
  return out;
}

/**
 * A pcapng file: one Section Header Block, one Interface Description Block (with if_tsresol = 9
 * when `nanos`, else the default microseconds) and one Enhanced Packet Block per frame.
 */
export function writePcapng(frames: readonly FrameToWrite[], linkType = 1, nanos = false): Buffer {
  const parts: Buffer[] = [];

  // SHB: byte-order magic, version 1.0, section length unknown (-1), no options.
  const shb = Buffer.alloc(28);
  shb.writeUInt32LE(0x0a0d0d0a, 0);
  shb.writeUInt32LE(28, 4);
  shb.writeUInt32LE(0x1a2b3c4d, 8);
  shb.writeUInt16LE(1, 12);
  shb.writeUInt16LE(0, 14);
  shb.writeInt32LE(-1, 16);
  shb.writeInt32LE(-1, 20);
  shb.writeUInt32LE(28, 24);
  parts.push(shb);

  // IDB: link type, snaplen, and for nanoseconds an if_tsresol option followed by opt_endofopt.
  const idbLen = nanos ? 32 : 20;
  const idb = Buffer.alloc(idbLen);
  idb.writeUInt32LE(1, 0);
  idb.writeUInt32LE(idbLen, 4);
  idb.writeUInt16LE(linkType, 8);
  idb.writeUInt32LE(SNAPLEN, 12);
  if (nanos) {
    idb.writeUInt16LE(9, 16); // if_tsresol
    idb.writeUInt16LE(1, 18);
    idb[20] = 9; // 10^-9 s
    // bytes 21..23 pad, 24..27 opt_endofopt (zeros)
  }
  idb.writeUInt32LE(idbLen, idbLen - 4);
  parts.push(idb);

  const unitsPerSecond = nanos ? 1e9 : 1e6;
  for (const f of frames) {
    const padded = (f.data.length + 3) & ~3;
    const len = 32 + padded;
    const epb = Buffer.alloc(len);
    epb.writeUInt32LE(6, 0);
    epb.writeUInt32LE(len, 4);
    epb.writeUInt32LE(0, 8); // interface 0
    const [sec, frac] = splitTime(f.tsMs, unitsPerSecond);
    // The 64-bit unit count, split into halves without going through a lossy double product.
    const units = BigInt(sec) * BigInt(unitsPerSecond) + BigInt(frac);
    epb.writeUInt32LE(Number(units >> 32n), 12);
    epb.writeUInt32LE(Number(units & 0xffffffffn), 16);
    epb.writeUInt32LE(f.data.length, 20);
    epb.writeUInt32LE(f.origLength ?? f.data.length, 24);
    f.data.copy(epb, 28);
    epb.writeUInt32LE(len, len - 4);
    parts.push(epb);
  }
  return Buffer.concat(parts);
}

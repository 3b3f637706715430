import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFormatError, captureKind, readCapture, type CapturedFrame } from '../src/wire/pcap/read.js';
import { writePcap, writePcapng } from '../src/wire/pcap/write.js';
import { ethernetIpv4Udp, ethernetIpv6Udp, fragmentIpv4, fragmentIpv6 } from '../src/wire/packet/build.js';
import { IpReassembler, udpFromFrame } from '../src/wire/packet/parse.js';
import { Prng } from './helpers/prng.js';

const FIXTURES = new URL('./fixtures/pcap/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const hasTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;

/** tshark's -T fields output for `file`, one array of field values per frame. */
function tsharkFields(file: string, fields: readonly string[], extra: readonly string[] = []): string[][] {
  const args = ['-n', '-r', file, ...extra, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
}

function all(buf: Buffer): CapturedFrame[] {
  return [...readCapture(buf)];
}

/** Reads until the end or the first error; returns the frames and the error, if any. */
function readUntilError(buf: Buffer): { frames: CapturedFrame[]; error: unknown } {
  const frames: CapturedFrame[] = [];
  try {
    for (const f of readCapture(buf)) frames.push(f);
    return { frames, error: undefined };
  } catch (error) {
    return { frames, error };
  }
}

// A deterministic PRNG (mulberry32) so fuzz failures reproduce.
/** Uniform floats in [0, 1) from the shared deterministic PRNG (same sequence as before). */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.float();
}

const frameA = Buffer.from('00112233445566778899aabb08004500001c000100004011f9d0c0a80001c0a8000204d2162e0008abcd', 'hex');
const frameB = Buffer.alloc(100, 0x5a);
const frameC = Buffer.alloc(1, 0x01);

// ---------------------------------------------------------------------------------------------
// pcap

test('captureKind recognises pcap (both orders, µs and ns) and pcapng by magic', () => {
  const magic = (n: number, le: boolean): Buffer => {
    const b = Buffer.alloc(24);
    if (le) b.writeUInt32LE(n, 0);
    else b.writeUInt32BE(n, 0);
    return b;
  };
  assert.equal(captureKind(magic(0xa1b2c3d4, true)), 'pcap');
  assert.equal(captureKind(magic(0xa1b2c3d4, false)), 'pcap');
  assert.equal(captureKind(magic(0xa1b23c4d, true)), 'pcap');
  assert.equal(captureKind(magic(0xa1b23c4d, false)), 'pcap');
  assert.equal(captureKind(magic(0x0a0d0d0a, true)), 'pcapng');
  assert.equal(captureKind(Buffer.from('GET / HTTP/1.1')), undefined);
  assert.equal(captureKind(Buffer.from([0xd4, 0xc3])), undefined);
  assert.equal(captureKind(Buffer.alloc(0)), undefined);
});

test('pcap µs: write then read keeps data, lengths, link type and time to the microsecond', () => {
  const frames = [
    { tsMs: 1700000000123.456, data: frameA },
    { tsMs: 1700000001000, data: frameB, origLength: 1500 },
    { tsMs: 1700000001999.9996, data: frameC }, // rounds up into the next second
  ];
  const buf = writePcap(frames, 228);
  assert.equal(captureKind(buf), 'pcap');
  const got = all(buf);
  assert.equal(got.length, 3);
  assert.deepEqual(got.map((f) => f.data), [frameA, frameB, frameC]);
  assert.deepEqual(got.map((f) => f.origLength), [frameA.length, 1500, 1]);
  assert.ok(got.every((f) => f.linkType === 228 && f.interfaceId === 0));
  assert.ok(Math.abs(got[0]!.tsMs - 1700000000123.456) < 1e-6);
  assert.equal(got[1]!.tsMs, 1700000001000);
  assert.equal(got[2]!.tsMs, 1700000002000);
  // The frame data is a view into the capture, not a copy.
  assert.equal(got[0]!.data.buffer, buf.buffer);
});

test('pcap ns: write then read keeps nanoseconds (to double precision)', () => {
  const buf = writePcap([{ tsMs: 1700000000123.456789, data: frameA }], 1, true);
  assert.equal(buf.readUInt32LE(0), 0xa1b23c4d);
  // A double holds today's ms timestamps to about 0.24 µs, so the last nanosecond digits are not kept.
  assert.ok(Math.abs(buf.readUInt32LE(28) - 123456789) < 300);
  const [f] = all(buf);
  assert.ok(Math.abs(f!.tsMs - 1700000000123.456789) < 5e-4);
  assert.equal(f!.linkType, 1);
});

/** A big-endian pcap written field by field, as a SPARC or a PowerPC host would. */
function bigEndianPcap(nanos: boolean, linkWord: number, records: { sec: number; frac: number; data: Buffer; orig?: number }[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32BE(nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  head.writeUInt16BE(2, 4);
  head.writeUInt16BE(4, 6);
  head.writeUInt32BE(65535, 16);
  head.writeUInt32BE(linkWord, 20);
  const parts: Buffer[] = [head];
  for (const r of records) {
    const h = Buffer.alloc(16);
    h.writeUInt32BE(r.sec, 0);
    h.writeUInt32BE(r.frac, 4);
    h.writeUInt32BE(r.data.length, 8);
    h.writeUInt32BE(r.orig ?? r.data.length, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

test('pcap big-endian, µs and ns', () => {
  const us = all(bigEndianPcap(false, 101, [{ sec: 1000, frac: 250000, data: frameA }, { sec: 1001, frac: 1, data: frameB, orig: 4000 }]));
  assert.deepEqual(
    us.map((f) => [f.tsMs, f.linkType, f.data.length, f.origLength]),
    [[1000250, 101, frameA.length, frameA.length], [1001000.001, 101, 100, 4000]],
  );
  assert.deepEqual(us[0]!.data, frameA);
  const ns = all(bigEndianPcap(true, 1, [{ sec: 2000, frac: 1, data: frameC }]));
  assert.equal(ns[0]!.tsMs, 2000000.000001);
});

test('pcap link-type word: FCS bits above the low 16 are not part of the type', () => {
  // The FCS-length field and its flag live in the top bits of the word; here: Ethernet with an FCS.
  const frames = all(bigEndianPcap(false, 0x24000001, [{ sec: 1, frac: 0, data: frameA }]));
  assert.equal(frames[0]!.linkType, 1);
});

test('pcap with a file header only has no frames', () => {
  assert.deepEqual(all(writePcap([])), []);
});

// ---------------------------------------------------------------------------------------------
// pcapng, hand-built so the reader is not checked against its own writer only

class Ng {
  constructor(readonly le: boolean) {}
  u16(n: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(n);
    else b.writeUInt16BE(n);
    return b;
  }
  u32(n: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(n >>> 0);
    else b.writeUInt32BE(n >>> 0);
    return b;
  }
  u64(n: bigint): Buffer {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(n);
    else b.writeBigUInt64BE(n);
    return b;
  }
  pad(b: Buffer): Buffer {
    return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  }
  block(type: number, ...body: Buffer[]): Buffer {
    const inner = this.pad(Buffer.concat(body));
    const len = inner.length + 12;
    return Buffer.concat([this.u32(type), this.u32(len), inner, this.u32(len)]);
  }
  option(code: number, value: Buffer): Buffer {
    return Buffer.concat([this.u16(code), this.u16(value.length), this.pad(value)]);
  }
  options(...opts: Buffer[]): Buffer {
    return opts.length === 0 ? Buffer.alloc(0) : Buffer.concat([...opts, this.u32(0)]);
  }
  shb(...opts: Buffer[]): Buffer {
    return this.block(0x0a0d0d0a, this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), this.u64(0xffffffffffffffffn), this.options(...opts));
  }
  idb(linkType: number, snaplen: number, ...opts: Buffer[]): Buffer {
    return this.block(1, this.u16(linkType), this.u16(0), this.u32(snaplen), this.options(...opts));
  }
  epb(ifc: number, units: bigint, data: Buffer, orig = data.length, ...opts: Buffer[]): Buffer {
    return this.block(6, this.u32(ifc), this.u32(Number(units >> 32n)), this.u32(Number(units & 0xffffffffn)), this.u32(data.length), this.u32(orig), this.pad(data), this.options(...opts));
  }
  opb(ifc: number, units: bigint, data: Buffer): Buffer {
    return this.block(2, this.u16(ifc), this.u16(0), this.u32(Number(units >> 32n)), this.u32(Number(units & 0xffffffffn)), this.u32(data.length), this.u32(data.length), this.pad(data));
  }
  spb(orig: number, data: Buffer): Buffer {
    return this.block(3, this.u32(orig), data);
  }
}

test('pcapng writer: µs and ns round trips', () => {
  const frames = [
    { tsMs: 1700000000123.456, data: frameA },
    { tsMs: 1700000000500, data: frameB, origLength: 9000 },
    { tsMs: 1700000000600.001, data: frameC },
  ];
  for (const nanos of [false, true]) {
    const buf = writePcapng(frames, 229, nanos);
    assert.equal(captureKind(buf), 'pcapng');
    const got = all(buf);
    assert.deepEqual(got.map((f) => f.data), [frameA, frameB, frameC]);
    assert.deepEqual(got.map((f) => f.origLength), [frameA.length, 9000, 1]);
    assert.ok(got.every((f) => f.linkType === 229 && f.interfaceId === 0));
    got.forEach((f, i) => assert.ok(Math.abs(f.tsMs - frames[i]!.tsMs) < 1e-3, `${nanos} ${f.tsMs}`));
  }
});

test('pcapng: several sections in both byte orders, several interfaces, tsresol and tsoffset, EPB/SPB/OPB, unknown blocks', () => {
  const le = new Ng(true);
  const be = new Ng(false);
  const sec = 1700000000n;
  const buf = Buffer.concat([
    le.shb(le.option(4, Buffer.from('sluice test'))), // shb_userappl
    le.idb(1, 64), // interface 0: Ethernet, default µs, snaplen 64
    le.idb(101, 0, le.option(2, Buffer.from('raw0')), le.option(9, Buffer.from([9])), le.option(14, le.u64(100n))), // ns, +100 s
    le.block(4, le.u16(0), le.u16(0)), // name resolution block: skipped
    le.block(0x0badf00d, Buffer.from('whatever the future brings')), // unknown: skipped by length
    le.epb(0, sec * 1_000_000n + 123_456n, frameA, frameA.length, le.option(2, le.u32(1))), // with epb_flags
    le.epb(1, sec * 1_000_000_000n + 123_456_789n, frameB),
    le.spb(100, frameB), // cut to the interface-0 snaplen of 64
    le.opb(1, sec * 1_000_000_000n + 5n, frameC),
    le.block(5, le.u32(0), le.u32(0), le.u32(0)), // interface statistics: skipped
    be.shb(),
    be.idb(113, 0, be.option(9, Buffer.from([0x94]))), // 2^-20 s units
    be.epb(0, sec * 1048576n + 524288n, frameA),
    be.spb(1, frameC),
  ]);
  const got = all(buf);
  assert.deepEqual(
    got.map((f) => [f.linkType, f.interfaceId, f.data.length, f.origLength]),
    [
      [1, 0, frameA.length, frameA.length],
      [101, 1, 100, 100],
      [1, 0, 64, 100],
      [101, 1, 1, 1],
      [113, 0, frameA.length, frameA.length],
      [113, 0, 1, 1],
    ],
  );
  const expected = [
    1700000000123.456,
    1700000000123.456789 + 100_000,
    1700000000123.456789 + 100_000, // SPB: no timestamp of its own, takes the previous one
    1700000000000.000005 + 100_000,
    1700000000500,
    1700000000500,
  ];
  got.forEach((f, i) => assert.ok(Math.abs(f.tsMs - expected[i]!) < 1e-3, `frame ${i}: ${f.tsMs} vs ${expected[i]}`));
  assert.deepEqual(got[0]!.data, frameA);
  assert.deepEqual(got[2]!.data, frameB.subarray(0, 64));
  assert.deepEqual(got[4]!.data, frameA);
});

test('pcapng: interface ids restart with each section', () => {
  const le = new Ng(true);
  const buf = Buffer.concat([le.shb(), le.idb(1, 0), le.idb(101, 0), le.epb(1, 0n, frameC), le.shb(), le.idb(1, 0), le.epb(1, 0n, frameC)]);
  const { frames, error } = readUntilError(buf);
  assert.equal(frames.length, 1);
  assert.ok(error instanceof CaptureFormatError);
  assert.match(error.message, /interface 1, but the section has 1/);
  assert.equal(error.offset, buf.length - le.epb(1, 0n, frameC).length);
});

// ---------------------------------------------------------------------------------------------
// real captures

const REAL: { file: string; frames: number; first: { tsMs: number; src: string; srcPort: number; udpLength: number } }[] = [
  { file: 'flowbeat-ipfix_cisco.pcap', frames: 3, first: { tsMs: 1530614820175.945, src: '10.101.255.2', srcPort: 52788, udpLength: 1448 } },
  { file: 'flowbeat-ipt_netflow_v5.pcap', frames: 2, first: { tsMs: 1541708171219.267, src: '192.168.1.1', srcPort: 37189, udpLength: 1472 } },
  { file: 'flowbeat-netflow9_ubiquiti_edgerouter.pcap', frames: 2, first: { tsMs: 1533833344951.16, src: '10.100.4.1', srcPort: 33135, udpLength: 504 } },
  { file: 'telegraf-ipfix_example.pcap', frames: 7, first: { tsMs: 1500000000000, src: '192.0.2.1', srcPort: 4444, udpLength: 1356 } },
  { file: 'telegraf-sflow_v5_example.pcap', frames: 1, first: { tsMs: 1500000000000, src: '192.0.2.1', srcPort: 4444, udpLength: 168 } },
];

test('real captures: frames, times and the UDP datagram of each', () => {
  for (const r of REAL) {
    const frames = all(fixture(r.file));
    assert.equal(frames.length, r.frames, r.file);
    const f = frames[0]!;
    assert.ok(Math.abs(f.tsMs - r.first.tsMs) < 1e-6, `${r.file}: ${f.tsMs}`);
    const u = udpFromFrame(f.linkType, f.data);
    assert.ok(u !== undefined, r.file);
    assert.deepEqual([u.srcAddr, u.srcPort, u.payload.length + 8], [r.first.src, r.first.srcPort, r.first.udpLength], r.file);
    for (const g of frames) assert.ok(udpFromFrame(g.linkType, g.data) !== undefined, r.file);
  }
});

test('real captures agree with tshark frame by frame', { skip: !hasTshark && 'tshark not installed' }, () => {
  for (const r of REAL) {
    const path = new URL(r.file, FIXTURES).pathname;
    const rows = tsharkFields(path, ['frame.time_epoch', 'ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport', 'udp.length']);
    const ours = all(readFileSync(path)).map((f) => {
      const u = udpFromFrame(f.linkType, f.data)!;
      return [(f.tsMs / 1000).toFixed(6), u.srcAddr, u.dstAddr, String(u.srcPort), String(u.dstPort), String(u.payload.length + 8)];
    });
    assert.deepEqual(ours, rows.map((row) => [Number(row[0]).toFixed(6), ...row.slice(1)]), r.file);
  }
});

// ---------------------------------------------------------------------------------------------
// generated captures, cross-checked with tshark

function mixedFrames(): Buffer[] {
  const big = Buffer.alloc(3000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  return [
    ethernetIpv4Udp({ src: '192.0.2.1', dst: '127.0.0.1', srcPort: 4444, dstPort: 2055, payload: Buffer.from('netflow') }),
    ethernetIpv6Udp({ src: '2001:db8::1', dst: '::1', srcPort: 5555, dstPort: 4739, payload: Buffer.alloc(300, 7) }),
    ethernetIpv4Udp({ src: '10.1.2.3', dst: '10.3.2.1', srcPort: 6343, dstPort: 6343, payload: Buffer.alloc(20), vlanIds: [100] }),
    ethernetIpv4Udp({ src: '10.9.9.9', dst: '10.8.8.8', srcPort: 1, dstPort: 2055, payload: Buffer.alloc(2), vlanIds: [200, 300] }),
    ...fragmentIpv4(ethernetIpv4Udp({ src: '198.51.100.7', dst: '127.0.0.1', srcPort: 9995, dstPort: 4739, payload: big, id: 4242 }), 1500),
    ...fragmentIpv6(ethernetIpv6Udp({ src: '2001:db8:0:0:1:0:0:1', dst: '::ffff:127.0.0.1', srcPort: 9996, dstPort: 2055, payload: big }), 1280, 77),
  ];
}

test('generated pcap and pcapng: udpFromFrame agrees with tshark, fragments reassembled', { skip: !hasTshark && 'tshark not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pcap-'));
  try {
    const frames = mixedFrames().map((data, i) => ({ tsMs: 1700000000000 + i * 1.5, data }));
    const files: [string, Buffer][] = [
      ['gen.pcap', writePcap(frames)],
      ['gen-ns.pcap', writePcap(frames, 1, true)],
      ['gen.pcapng', writePcapng(frames)],
      ['gen-ns.pcapng', writePcapng(frames, 1, true)],
    ];
    for (const [name, buf] of files) {
      const path = join(dir, name);
      writeFileSync(path, buf);
      // ip.src can list two addresses for an encapsulated packet; ours are never nested.
      const rows = tsharkFields(path, ['frame.time_epoch', 'ip.src', 'ipv6.src', 'udp.srcport', 'udp.length']);
      const reasm = new IpReassembler();
      const ours = all(buf).map((f) => {
        const u = udpFromFrame(f.linkType, f.data, reasm, f.tsMs);
        return u === undefined ? ['', '', ''] : [u.srcAddr, String(u.srcPort), String(u.payload.length + 8)];
      });
      // tshark shows a reassembled datagram's UDP fields on the frame that completed it, as we do.
      const theirs = rows.map((row) => (row[3] === '' ? ['', '', ''] : [row[1] || row[2]!, row[3]!, row[4]!]));
      assert.deepEqual(ours, theirs, name);
      const times = rows.map((row) => Number(row[0]));
      frames.forEach((f, i) => assert.ok(Math.abs(times[i]! * 1000 - f.tsMs) < 1e-3, `${name} frame ${i}`));
      assert.equal(reasm.stats.completed, 2, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// corrupt input

function assertCaptureError(buf: Buffer, offset: number | undefined, pattern?: RegExp): CapturedFrame[] {
  const { frames, error } = readUntilError(buf);
  assert.ok(error instanceof CaptureFormatError, `expected CaptureFormatError, got ${String(error)}`);
  if (offset !== undefined) assert.equal(error.offset, offset);
  assert.ok(error.message.includes(`offset ${error.offset}`), error.message);
  if (pattern !== undefined) assert.match(error.message, pattern);
  return frames;
}

test('garbage and short inputs throw CaptureFormatError at offset 0', () => {
  assertCaptureError(Buffer.alloc(0), 0, /unknown magic/);
  assertCaptureError(Buffer.from('not a capture at all'), 0, /unknown magic/);
  assertCaptureError(writePcap([]).subarray(0, 23), 0, /file header is truncated/);
  const badBom = new Ng(true).shb();
  badBom.writeUInt32LE(0x12345678, 8);
  assertCaptureError(badBom, 0, /byte-order magic/);
});

test('pcap: lying record lengths throw after the good frames', () => {
  const good = writePcap([{ tsMs: 1, data: frameA }, { tsMs: 2, data: frameB }]);
  const second = 24 + 16 + frameA.length;
  for (const lie of [0xffffffff, 0x7fffffff, 262145, frameB.length + 1]) {
    const buf = Buffer.from(good);
    buf.writeUInt32LE(lie, second + 8);
    const frames = assertCaptureError(buf, second);
    assert.deepEqual(frames.map((f) => f.data), [frameA]);
  }
  // A record larger than the snaplen but within the hard limit and the file is accepted.
  const buf = writePcap([{ tsMs: 1, data: Buffer.alloc(70000) }]);
  buf.writeUInt32LE(65535, 16);
  assert.equal(all(buf)[0]!.data.length, 70000);
});

test('pcapng: lying block and field lengths throw after the good frames', () => {
  const le = new Ng(true);
  const head = Buffer.concat([le.shb(), le.idb(1, 0), le.epb(0, 1n, frameA)]);
  const bad = (tail: Buffer): CapturedFrame[] => {
    const frames = assertCaptureError(Buffer.concat([head, tail]), head.length);
    assert.deepEqual(frames.map((f) => f.data), [frameA]);
    return frames;
  };
  const epb = le.epb(0, 2n, frameB);
  const withLength = (b: Buffer, at: number, n: number): Buffer => {
    const c = Buffer.from(b);
    c.writeUInt32LE(n, at);
    return c;
  };
  for (const n of [0, 4, 8, 13, 14, 15, 0xfffffffc, 0x7ffffffc, epb.length + 4]) bad(withLength(epb, 4, n));
  bad(withLength(epb, epb.length - 4, epb.length + 4)); // trailing length disagrees
  bad(withLength(epb, 20, frameB.length + 100)); // captured length beyond the block
  bad(withLength(epb, 20, 0xffffffff));
  bad(withLength(epb, 8, 7)); // no such interface
  bad(le.block(6, le.u32(0))); // packet block too short for its fields
  bad(le.block(3)); // SPB without its length field
  bad(le.block(1, le.u16(1))); // IDB too short
  bad(le.idb(1, 0, le.option(9, Buffer.from([6])), Buffer.from([0x0e, 0x00, 0xf0, 0xff]))); // option overruns
  bad(Buffer.alloc(8)); // fewer than 12 bytes left
  // Blocks before the first section header, and an SPB with no interface yet.
  assertCaptureError(Buffer.concat([le.shb(), le.spb(1, frameC)]), 28, /before any interface/);
  const v2 = le.shb();
  v2.writeUInt16LE(2, 12);
  assertCaptureError(v2, 0, /major version 2/);
});

test('truncating a capture anywhere yields the frames before the cut, then a CaptureFormatError', () => {
  const frames = [{ tsMs: 1, data: frameA }, { tsMs: 2, data: frameB }, { tsMs: 3, data: frameC }];
  const le = new Ng(true);
  const ng = Buffer.concat([le.shb(), le.idb(1, 0), le.epb(0, 1n, frameA), le.spb(frameB.length, frameB), le.block(99), le.opb(0, 3n, frameC)]);
  for (const full of [writePcap(frames), writePcap(frames, 1, true), writePcapng(frames), ng]) {
    const complete = all(full);
    for (let cut = 0; cut < full.length; cut++) {
      const { frames: got, error } = readUntilError(full.subarray(0, cut));
      assert.ok(got.length <= complete.length);
      got.forEach((f, i) => assert.deepEqual(f.data, complete[i]!.data));
      if (error === undefined) {
        // Only a cut exactly between records (with every header present) reads cleanly.
        assert.ok(got.length < complete.length, `cut ${cut}`);
      } else {
        assert.ok(error instanceof CaptureFormatError, `cut ${cut}: ${String(error)}`);
        assert.ok(error.offset <= cut, `cut ${cut}: offset ${error.offset}`);
      }
    }
  }
});

test('fuzz: mutated and random captures only ever throw CaptureFormatError, and end', { timeout: 60_000 }, () => {
  const rand = prng(0x5111ce);
  const le = new Ng(true);
  const be = new Ng(false);
  const seeds = [
    writePcap(mixedFrames().map((data, i) => ({ tsMs: i, data }))),
    writePcapng(mixedFrames().map((data, i) => ({ tsMs: i, data })), 1, true),
    Buffer.concat([le.shb(), le.idb(1, 64, le.option(9, Buffer.from([0x8a]))), le.epb(0, 5n, frameA), le.spb(100, frameB), be.shb(), be.idb(101, 0), be.opb(0, 1n, frameC)]),
  ];
  let frames = 0;
  for (let iter = 0; iter < 10000; iter++) {
    const seed = seeds[iter % seeds.length]!;
    let buf: Buffer;
    if (iter % 10 === 9) {
      // Random bytes behind a valid magic.
      buf = Buffer.alloc(Math.floor(rand() * 400));
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
      const magic = seed.subarray(0, Math.min(seed[0] === 0x0a ? 12 : 4, buf.length));
      magic.copy(buf, 0);
    } else {
      buf = Buffer.from(seed);
      const flips = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rand() * buf.length);
        buf[at] = rand() < 0.5 ? Math.floor(rand() * 256) : buf[at]! ^ (1 << Math.floor(rand() * 8));
      }
    }
    const { frames: got, error } = readUntilError(buf);
    if (error !== undefined && !(error instanceof CaptureFormatError)) {
      assert.fail(`iteration ${iter}: ${String(error)}\n${buf.toString('hex')}`);
    }
    const reasm = new IpReassembler();
    for (const f of got) {
      assert.ok(f.data.length <= buf.length);
      // The packet decoders must take whatever the reader hands them.
      udpFromFrame(f.linkType, f.data, reasm, f.tsMs);
    }
    frames += got.length;
  }
  assert.ok(frames > 0);
});

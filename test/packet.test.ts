import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipv4ToString, ipv6ToString, macToString, parseIpv4, parseIpv6, parseMac } from '../src/wire/packet/addr.js';
import {
  ethernet,
  ethernetIpv4Icmp,
  ethernetIpv4Tcp,
  ethernetIpv4Udp,
  ethernetIpv6Icmp,
  ethernetIpv6Tcp,
  ethernetIpv6Udp,
  fragmentIpv4,
  fragmentIpv6,
  TcpFlag,
} from '../src/wire/packet/build.js';
import { internetChecksum, sumWords, fold } from '../src/wire/packet/checksum.js';
import { dissect, IpReassembler, Ipv4Reassembler, PacketLayers, parsePacket, udpFromFrame } from '../src/wire/packet/parse.js';
import { writePcap } from '../src/wire/pcap/write.js';
import { Prng } from './helpers/prng.js';

const hasTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;

function tsharkFields(file: string, fields: readonly string[], extra: readonly string[] = []): string[][] {
  const args = ['-n', '-r', file, ...extra, '-T', 'fields', '-E', 'occurrence=a', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
}

/** Runs `fn` with a temporary directory that is removed afterwards. */
function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-packet-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Uniform floats in [0, 1) from the shared deterministic PRNG (same sequence as before). */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.float();
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const v6 = (text: string): string => ipv6ToString(parseIpv6(text)!, 0);

// ---------------------------------------------------------------------------------------------
// address text

test('IPv4 and MAC text', () => {
  assert.equal(ipv4ToString(Buffer.from([0, 10, 192, 168, 1, 255, 0]), 2), '192.168.1.255');
  assert.equal(ipv4ToString(Buffer.from([0, 0, 0, 0]), 0), '0.0.0.0');
  assert.equal(macToString(Buffer.from([0xff, 0x00, 0x1b, 0x2c, 0xa0, 0x0f, 0xee]), 1), '00:1b:2c:a0:0f:ee');
  assert.throws(() => ipv4ToString(Buffer.alloc(5), 2), RangeError);
  assert.throws(() => ipv6ToString(Buffer.alloc(16), 1), RangeError);
  assert.throws(() => macToString(Buffer.alloc(5), 0), RangeError);
  assert.deepEqual(parseMac('00-1B-2c-a0-0f-ee'), Buffer.from([0x00, 0x1b, 0x2c, 0xa0, 0x0f, 0xee]));
  assert.equal(parseIpv4('256.1.1.1'), undefined);
  assert.equal(parseIpv4('1.2.3'), undefined);
});

test('IPv6 text is RFC 5952 canonical', () => {
  const cases: [string, string][] = [
    ['::1', '::1'],
    ['::', '::'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // equal runs: the first is compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['2001:db8::', '2001:db8::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80::0a00:00ff:fe00:0001', 'fe80::a00:ff:fe00:1'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['0:0:0:0:0:ffff:0102:0304', '::ffff:1.2.3.4'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['::1.2.3.4', '::102:304'], // deprecated IPv4-compatible form is plain hex
    ['::ffff:0:1.2.3.4', '::ffff:0:102:304'], // IPv4-translated: not the mapped prefix
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['0:0:1:0:0:0:0:0', '0:0:1::'],
  ];
  for (const [input, want] of cases) assert.equal(v6(input), want, input);
  assert.equal(parseIpv6('1::2::3'), undefined);
  assert.equal(parseIpv6('1:2:3:4:5:6:7:8:9'), undefined);
  assert.equal(parseIpv6('12345::'), undefined);
  assert.deepEqual(parseIpv6('fe80::1%eth0'), parseIpv6('fe80::1'));
});

test('IPv6 text matches the WHATWG URL serializer (same RFC 5952 compression) on random addresses', () => {
  const rand = prng(6);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.alloc(16);
    // Mostly zero groups, so runs of every length and position occur.
    for (let g = 0; g < 8; g++) if (rand() < 0.4) b.writeUInt16BE(Math.floor(rand() * 65536) >> Math.floor(rand() * 16), 2 * g);
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b.readUInt16BE(10) === 0xffff;
    const ours = ipv6ToString(b, 0);
    if (mapped) {
      assert.equal(ours, '::ffff:' + ipv4ToString(b, 12));
    } else {
      assert.equal('[' + ours + ']', new URL('http://[' + ours + ']/').hostname, b.toString('hex'));
      // And the text reads back as the same bytes.
      assert.deepEqual(parseIpv6(ours), b);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// checksums and builders

/** Checks the IPv4 header checksum and the transport checksum (with pseudo-header) of an Ethernet frame. */
function assertChecksums(frame: Buffer): void {
  const l = new PacketLayers();
  assert.ok(dissect(1, frame, l));
  const ip = l.ipOffset;
  const seg = frame.subarray(l.l4Offset, l.ipEnd);
  if (l.ipVersion === 4) assert.equal(internetChecksum(frame, ip, ip + l.ipHeaderLength), 0, 'IPv4 header');
  if (l.protocol === 1) {
    assert.equal(internetChecksum(seg, 0, seg.length), 0, 'ICMP');
    return;
  }
  const alen = l.ipVersion === 4 ? 4 : 16;
  let sum = sumWords(frame, l.srcAddrOffset, l.srcAddrOffset + alen);
  sum = sumWords(frame, l.dstAddrOffset, l.dstAddrOffset + alen, sum);
  sum += l.protocol + seg.length;
  assert.equal(fold(sumWords(seg, 0, seg.length, sum)), 0, `protocol ${l.protocol}`);
}

function sampleFrames(): Buffer[] {
  return [
    ethernetIpv4Udp({ src: '192.0.2.1', dst: '127.0.0.1', srcPort: 4444, dstPort: 2055, payload: Buffer.from('odd length') }),
    ethernetIpv4Udp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload: Buffer.alloc(0), ttl: 1, id: 0xbeef, tos: 0xb8 }),
    ethernetIpv6Udp({ src: '2001:db8::1', dst: 'ff02::1:3', srcPort: 5353, dstPort: 5353, payload: Buffer.alloc(33, 1), hopLimit: 255, trafficClass: 0x2e, flowLabel: 0xabcde }),
    ethernetIpv4Tcp({ src: '172.16.0.1', dst: '172.16.0.2', srcPort: 40000, dstPort: 443, flags: TcpFlag.SYN | TcpFlag.ACK, seq: 0xfffffff0, ack: 12345, payload: Buffer.from('x') }),
    ethernetIpv6Tcp({ src: 'fe80::1', dst: 'fe80::2', srcPort: 22, dstPort: 50000, flags: TcpFlag.FIN | TcpFlag.PSH | TcpFlag.ACK | TcpFlag.CWR, seq: 7, ack: 8, vlanIds: [42] }),
    ethernetIpv4Icmp({ src: '10.0.0.1', dst: '10.0.0.2', type: 8, code: 0, rest: Buffer.from([0, 1, 0, 2]), payload: Buffer.from('ping') }),
    ethernetIpv4Icmp({ src: '10.0.0.2', dst: '10.0.0.1', type: 3, code: 3, vlanIds: [1, 2] }),
    ethernetIpv6Icmp({ src: '::1', dst: '::1', type: 128, code: 0, payload: Buffer.from('ping6!') }),
  ];
}

test('builders write correct IPv4 header, UDP, TCP and ICMP checksums', () => {
  for (const f of sampleFrames()) assertChecksums(f);
  // UDP never sends a computed zero: find a payload whose checksum would be 0 and see 0xffff instead.
  for (let n = 0; n < 70000; n++) {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(n);
    const f = ethernetIpv4Udp({ src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, payload: p });
    if (f.readUInt16BE(40) === 0xffff) {
      assertChecksums(f);
      return;
    }
  }
  assert.fail('no payload hit the 0xffff case');
});

test('tshark finds every builder checksum good', { skip: !hasTshark && 'tshark not installed' }, () => {
  withTmp((dir) => {
    const frames = sampleFrames();
    const file = join(dir, 'sums.pcap');
    writeFileSync(file, writePcap(frames.map((data, i) => ({ tsMs: i, data }))));
    const rows = tsharkFields(
      file,
      ['ip.checksum.status', 'udp.checksum.status', 'tcp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status'],
      ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'],
    );
    assert.equal(rows.length, frames.length);
    // 1 is "Good"; ICMP inside an ICMP error repeats headers, so look at the first value of each.
    for (const [i, row] of rows.entries()) {
      const statuses = row.map((v) => v.split(',')[0]).filter((v) => v !== '');
      assert.ok(statuses.length > 0 && statuses.every((v) => v === '1'), `frame ${i}: ${row.join('|')}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// link types

const UDP4 = ethernetIpv4Udp({ src: '192.0.2.10', dst: '198.51.100.20', srcPort: 2055, dstPort: 9995, payload: Buffer.from('v4 payload') });
const UDP6 = ethernetIpv6Udp({ src: '2001:db8::a', dst: '2001:db8::b', srcPort: 4739, dstPort: 4740, payload: Buffer.from('v6 payload!') });
const IP4 = UDP4.subarray(14);
const IP6 = UDP6.subarray(14);

function u32(n: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return b;
}

function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  Buffer.from('020000000001', 'hex').copy(h, 6);
  h.writeUInt16BE(ip[0]! >> 4 === 4 ? 0x0800 : 0x86dd, 14);
  return Buffer.concat([h, ip]);
}

function sll2(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ip[0]! >> 4 === 4 ? 0x0800 : 0x86dd, 0);
  h.writeUInt32BE(3, 4); // interface index
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[10] = 4; // outgoing
  h[11] = 6;
  Buffer.from('020000000001', 'hex').copy(h, 12);
  return Buffer.concat([h, ip]);
}

function tagged(frame: Buffer, tags: [number, number][]): Buffer {
  const t = Buffer.alloc(4 * tags.length);
  tags.forEach(([tpid, id], i) => {
    t.writeUInt16BE(tpid, 4 * i);
    t.writeUInt16BE(id, 4 * i + 2);
  });
  return Buffer.concat([frame.subarray(0, 12), t, frame.subarray(12)]);
}

/** Ethernet frames whose network layer sits behind something other than a plain EtherType. */
function ethernetVariants(ip: Buffer): Buffer[] {
  const v4 = ip[0]! >> 4 === 4;
  const plain = ethernet({}, v4 ? 0x0800 : 0x86dd, ip);
  const mpls = Buffer.from([0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]); // labels 16, 32 (bottom)
  const pppoe = Buffer.alloc(8);
  pppoe.writeUInt16BE(0x1100, 0); // version 1, type 1, code 0
  pppoe.writeUInt16BE(0x1234, 2); // session
  pppoe.writeUInt16BE(ip.length + 2, 4);
  pppoe.writeUInt16BE(v4 ? 0x0021 : 0x0057, 6);
  const snap = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, v4 ? 0x08 : 0x86, v4 ? 0x00 : 0xdd]);
  const llcFrame = ethernet({}, 8 + ip.length, Buffer.concat([snap, ip])); // 802.3 length field
  return [
    plain,
    tagged(plain, [[0x8100, 0x2064]]), // priority 1, VLAN 100
    tagged(plain, [[0x88a8, 10], [0x8100, 20]]),
    tagged(plain, [[0x9100, 30], [0x8100, 40]]),
    tagged(plain, [[0x88a8, 1], [0x8100, 2], [0x8100, 3]]),
    ethernet({}, 0x8847, Buffer.concat([mpls, ip])),
    ethernet({}, 0x8864, Buffer.concat([pppoe, ip])),
    llcFrame,
    // Padded to the 60-byte Ethernet minimum with a trailer that is not part of the datagram.
    Buffer.concat([plain, Buffer.alloc(Math.max(0, 64 - plain.length), 0xee)]),
  ];
}

function linkVariants(): { linkType: number; frames: Buffer[] }[] {
  return [
    { linkType: 1, frames: [...ethernetVariants(IP4), ...ethernetVariants(IP6)] },
    { linkType: 0, frames: [Buffer.concat([u32(2, true), IP4]), Buffer.concat([u32(2, false), IP4]), Buffer.concat([u32(30, true), IP6]), Buffer.concat([u32(24, false), IP6]), Buffer.concat([u32(28, true), IP6])] },
    { linkType: 108, frames: [Buffer.concat([u32(2, false), IP4]), Buffer.concat([u32(24, false), IP6])] },
    { linkType: 101, frames: [IP4, IP6] },
    { linkType: 12, frames: [IP4, IP6] },
    { linkType: 14, frames: [IP4, IP6] },
    { linkType: 228, frames: [IP4] },
    { linkType: 229, frames: [IP6] },
    { linkType: 113, frames: [sll(IP4), sll(IP6)] },
    { linkType: 276, frames: [sll2(IP4), sll2(IP6)] },
  ];
}

test('udpFromFrame finds the datagram on every supported link type and encapsulation', () => {
  for (const { linkType, frames } of linkVariants()) {
    for (const [i, frame] of frames.entries()) {
      const u = udpFromFrame(linkType, frame);
      assert.ok(u !== undefined, `link type ${linkType} frame ${i}`);
      const v4 = u.ipVersion === 4;
      assert.deepEqual(
        { ...u, payload: u.payload.toString() },
        v4
          ? { srcAddr: '192.0.2.10', dstAddr: '198.51.100.20', srcPort: 2055, dstPort: 9995, payload: 'v4 payload', ipVersion: 4, truncated: false }
          : { srcAddr: '2001:db8::a', dstAddr: '2001:db8::b', srcPort: 4739, dstPort: 4740, payload: 'v6 payload!', ipVersion: 6, truncated: false },
        `link type ${linkType} frame ${i}`,
      );
    }
  }
  assert.deepEqual(parsePacket(1, ethernetVariants(IP4)[4]!).vlanIds, [1, 2, 3]);
  assert.deepEqual(parsePacket(1, ethernetVariants(IP4)[1]!).vlanIds, [100]);
  assert.equal(parsePacket(1, ethernetVariants(IP4)[5]!).mplsLabels, 2);
  assert.equal(udpFromFrame(999, IP4), undefined);
  assert.equal(udpFromFrame(0, Buffer.concat([u32(7, true), IP4])), undefined); // unknown family
});

test('udpFromFrame agrees with tshark on every link type', { skip: !hasTshark && 'tshark not installed' }, () => {
  withTmp((dir) => {
    for (const { linkType, frames } of linkVariants()) {
      const file = join(dir, `lt${linkType}.pcap`);
      writeFileSync(file, writePcap(frames.map((data, i) => ({ tsMs: i, data })), linkType));
      const rows = tsharkFields(file, ['ip.src', 'ipv6.src', 'udp.srcport', 'udp.length']);
      const theirs = rows.map((r) => [r[0] || r[1], r[2], r[3]]);
      const ours = frames.map((f) => {
        const u = udpFromFrame(linkType, f)!;
        return [u.srcAddr, String(u.srcPort), String(u.payload.length + 8)];
      });
      assert.deepEqual(ours, theirs, `link type ${linkType}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// IP options, IPv6 extension headers, truncation, malformed headers

/** An IPv4 option list: Router Alert (copied into every fragment), Record Route (first only), NOP. */
const IPV4_OPTIONS = Buffer.from([0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x01]);

test('IPv4 with options', () => {
  const f = ethernetIpv4Udp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 7, dstPort: 8, payload: Buffer.from('opt'), options: IPV4_OPTIONS });
  assert.equal(f[14], 0x48); // header of 32 bytes
  assertChecksums(f);
  const u = udpFromFrame(1, f)!;
  assert.equal(u.payload.toString(), 'opt');
  assert.equal(parsePacket(1, f).payloadOffset, 14 + 32 + 8);
});

/** Inserts IPv6 extension headers between the fixed header and the upper layer of an Ethernet/IPv6 frame. */
function withExtensions(frame: Buffer, headers: { type: number; body: Buffer }[]): Buffer {
  const ip = frame.subarray(14);
  const first = ip[6]!;
  const parts: Buffer[] = [];
  headers.forEach((h, i) => {
    const next = i + 1 < headers.length ? headers[i + 1]!.type : first;
    const b = Buffer.concat([Buffer.from([next, 0]), h.body]);
    if (h.type !== 44) b[1] = b.length / 8 - 1; // the Fragment header has no length field
    parts.push(b);
  });
  const ext = Buffer.concat(parts);
  const fixed = Buffer.from(ip.subarray(0, 40));
  fixed[6] = headers[0]!.type;
  fixed.writeUInt16BE(ip.length - 40 + ext.length, 4);
  return Buffer.concat([frame.subarray(0, 14), fixed, ext, ip.subarray(40)]);
}

const PADN6 = Buffer.from([0x01, 0x04, 0, 0, 0, 0]);
// Type 2 routing header (Mobile IPv6), segments left 0, so the datagram's checksum is unchanged.
const ROUTING2 = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0]), parseIpv6('2001:db8::99')!]);

test('IPv6 extension headers: hop-by-hop, routing, destination options, atomic fragment', () => {
  const f = withExtensions(UDP6, [
    { type: 0, body: PADN6 },
    { type: 43, body: ROUTING2 },
    { type: 60, body: PADN6 },
    { type: 44, body: Buffer.from([0, 0, 0, 0, 0, 9]) }, // offset 0, M 0: an atomic fragment (RFC 6946)
  ]);
  const u = udpFromFrame(1, f)!;
  assert.equal(u.payload.toString(), 'v6 payload!');
  const p = parsePacket(1, f);
  assert.equal(p.protocol, 17);
  assert.equal(p.fragment, undefined);
  assert.equal(p.payloadOffset, 14 + 40 + 8 + 24 + 8 + 8 + 8);
  // A next-header chain that runs off the end stops there, without a transport layer.
  const cut = Buffer.from(f.subarray(0, 14 + 40 + 4));
  cut.writeUInt16BE(4, 18);
  assert.equal(udpFromFrame(1, cut), undefined);
  assert.equal(parsePacket(1, cut).protocol, 0);
});

test('IPv6 extension headers agree with tshark', { skip: !hasTshark && 'tshark not installed' }, () => {
  withTmp((dir) => {
    const frames = [
      withExtensions(UDP6, [{ type: 0, body: PADN6 }, { type: 43, body: ROUTING2 }, { type: 60, body: PADN6 }]),
      withExtensions(UDP6, [{ type: 60, body: Buffer.concat([PADN6, Buffer.from([0x01, 0x06, 0, 0, 0, 0, 0, 0])]) }]),
    ];
    const file = join(dir, 'ext.pcap');
    writeFileSync(file, writePcap(frames.map((data, i) => ({ tsMs: i, data }))));
    const rows = tsharkFields(file, ['udp.srcport', 'udp.length', 'udp.checksum.status'], ['-o', 'udp.check_checksum:TRUE']);
    assert.deepEqual(rows, frames.map(() => ['4739', '19', '1']));
    for (const f of frames) assert.equal(udpFromFrame(1, f)!.payload.length, 11);
  });
});

test('captures cut short: truncated datagrams are flagged, missing headers give undefined', () => {
  const full = udpFromFrame(1, UDP4)!;
  const cut = udpFromFrame(1, UDP4.subarray(0, UDP4.length - 4))!;
  assert.equal(full.truncated, false);
  assert.equal(cut.truncated, true);
  assert.equal(cut.payload.toString(), 'v4 pay');
  for (let n = 0; n < 14 + 20 + 8; n++) assert.equal(udpFromFrame(1, UDP4.subarray(0, n)), undefined, `cut at ${n}`);
  const p = parsePacket(1, UDP4.subarray(0, 20));
  assert.deepEqual([p.truncated, p.ipVersion, p.srcMac], [true, undefined, '02:00:00:00:00:01']);
  for (let n = 0; n < 14 + 40 + 8; n++) assert.equal(udpFromFrame(1, UDP6.subarray(0, n)), undefined, `v6 cut at ${n}`);
  assert.equal(udpFromFrame(1, UDP6.subarray(0, UDP6.length - 1))!.truncated, true);
});

test('malformed headers give undefined, never an exception', () => {
  const lie = (at: number, value: number, frame = UDP4): Buffer => {
    const b = Buffer.from(frame);
    b.writeUInt16BE(value, at);
    return b;
  };
  assert.equal(udpFromFrame(1, lie(14 + 20 + 4, 7)), undefined); // UDP length below its header
  assert.equal(udpFromFrame(1, lie(14 + 20 + 4, 200)), undefined); // UDP length beyond the IP datagram
  assert.equal(udpFromFrame(1, lie(16, 10)), undefined); // IP total length below the header
  const v5 = Buffer.from(UDP4);
  v5[14] = 0x55;
  assert.equal(udpFromFrame(1, v5), undefined);
  const shortIhl = Buffer.from(UDP4);
  shortIhl[14] = 0x44;
  assert.equal(udpFromFrame(1, shortIhl), undefined);
  // IPv4 total length 0 (TCP segmentation offload captures): the capture's length is used.
  assert.equal(udpFromFrame(1, lie(16, 0))!.payload.toString(), 'v4 payload');
  // Random bytes on every link type.
  const rand = prng(99);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 120));
    for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
    if (b.length > 14 && rand() < 0.5) b.writeUInt16BE([0x0800, 0x86dd, 0x8100, 0x8847, 0x8864][i % 5]!, 12);
    if (b.length > 14 && rand() < 0.5) b[14] = rand() < 0.5 ? 0x45 : 0x60;
    const lt = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276][i % 10]!;
    udpFromFrame(lt, b, new IpReassembler(), i);
    parsePacket(lt, b);
  }
});

// ---------------------------------------------------------------------------------------------
// parsePacket against tshark

test('parsePacket fields agree with tshark', { skip: !hasTshark && 'tshark not installed' }, () => {
  const big = ethernetIpv4Udp({ src: '10.0.0.5', dst: '10.0.0.6', srcPort: 1000, dstPort: 2000, payload: Buffer.alloc(3000, 3), id: 999, tos: 0x10 });
  const frames = [...sampleFrames(), ...fragmentIpv4(big, 1400), ...ethernetVariants(IP4).slice(1, 5)];
  withTmp((dir) => {
    const file = join(dir, 'parse.pcap');
    writeFileSync(file, writePcap(frames.map((data, i) => ({ tsMs: i, data }))));
    const fields = ['eth.src', 'eth.dst', 'ieee8021ad.id', 'vlan.id', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'ip.proto', 'ip.ttl', 'ipv6.hlim', 'ip.dsfield', 'ipv6.tclass', 'ipv6.flow', 'ip.len', 'ip.id', 'ip.frag_offset', 'ip.flags.mf', 'tcp.srcport', 'udp.srcport', 'tcp.dstport', 'udp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.window_size_value', 'icmp.type', 'icmpv6.type', 'icmp.code', 'icmpv6.code'];
    const rows = tsharkFields(file, fields, ['-o', 'ip.defragment:FALSE']);
    const hex = (n: number | undefined, width: number): string => (n === undefined ? '' : '0x' + n.toString(16).padStart(width, '0'));
    const s = (n: number | undefined): string => (n === undefined ? '' : String(n));
    frames.forEach((f, i) => {
      const p = parsePacket(1, f);
      const v4 = p.ipVersion === 4;
      const first = (v: string | undefined): string => (v ?? '').split(',')[0]!; // ICMP errors quote an inner header
      const row = rows[i]!.map(first);
      const t = Object.fromEntries(fields.map((name, k) => [name, row[k]!]));
      // tshark 4.0 shows the fragment offset in 8-byte units, ours is in bytes.
      const got = {
        src: p.srcMac, dst: p.dstMac, vlan: p.vlanIds.join(','),
        srcAddr: p.srcAddr, dstAddr: p.dstAddr,
        ttl: s(p.ttl), tos: v4 ? hex(p.tos, 2) : hex(p.tos, 8), flow: v4 ? '' : hex(p.flowLabel, 6),
        len: v4 ? s(p.ipTotalLength) : '',
        id: v4 ? hex(p.fragment?.id ?? f.readUInt16BE(p.vlanIds.length * 4 + 18), 4) : '',
        fragOffset: v4 ? s((p.fragment?.offset ?? 0) / 8) : '', mf: v4 ? (p.fragment?.more === true ? 'True' : 'False') : '',
        sport: s(p.srcPort), dport: s(p.dstPort),
        tcpFlags: p.tcp === undefined ? '' : hex(p.tcp.flags, 4), seq: s(p.tcp?.seq), ack: s(p.tcp?.ack), win: s(p.tcp?.window),
        icmpType: s(p.icmp?.type), icmpCode: s(p.icmp?.code),
      };
      const want = {
        src: t['eth.src'], dst: t['eth.dst'],
        // tshark names 802.1ad service tags apart from 802.1Q tags; here the service tag is always outermost.
        vlan: [rows[i]![2]!, rows[i]![3]!].filter((v) => v !== '').join(','),
        srcAddr: t['ip.src'] || t['ipv6.src'], dstAddr: t['ip.dst'] || t['ipv6.dst'],
        ttl: t['ip.ttl'] || t['ipv6.hlim'], tos: t['ip.dsfield'] || t['ipv6.tclass'], flow: t['ipv6.flow'],
        len: t['ip.len'], id: t['ip.id'], fragOffset: t['ip.frag_offset'], mf: t['ip.flags.mf'] === '1' ? 'True' : t['ip.flags.mf'] === '0' ? 'False' : t['ip.flags.mf'],
        sport: t['tcp.srcport'] || t['udp.srcport'], dport: t['tcp.dstport'] || t['udp.dstport'],
        tcpFlags: t['tcp.flags'], seq: t['tcp.seq_raw'], ack: t['tcp.ack_raw'], win: t['tcp.window_size_value'],
        icmpType: t['icmp.type'] || t['icmpv6.type'], icmpCode: t['icmp.code'] || t['icmpv6.code'],
      };
      assert.deepEqual(got, want, `frame ${i}`);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// fragments

function bigUdp4(payloadLength: number, id: number, src = '203.0.113.9'): { frame: Buffer; payload: Buffer } {
  const payload = Buffer.alloc(payloadLength);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + id) & 0xff;
  return { frame: ethernetIpv4Udp({ src, dst: '127.0.0.1', srcPort: 2055, dstPort: 2055, payload, id }), payload };
}

test('IPv4 fragments reassemble in any order, with duplicates, into a valid datagram', () => {
  const { frame, payload } = bigUdp4(5000, 7);
  const frags = fragmentIpv4(frame, 576);
  assert.equal(frags.length, 10); // 5008 bytes of UDP in 552-byte pieces
  for (const f of frags) {
    assertChecksumIpv4Header(f);
    assert.ok(f.length - 14 <= 576);
  }
  const rand = prng(1);
  const mixed = shuffle(frags, rand);
  // Repeats, as when a capture sees a fragment twice, before the datagram completes.
  const repeated = [mixed[0]!, mixed[0]!, ...mixed.slice(1, -1), mixed[1]!, mixed[mixed.length - 1]!];
  for (const order of [frags, [...frags].reverse(), mixed, repeated]) {
    const r = new IpReassembler();
    const results = order.map((f, i) => udpFromFrame(1, f, r, 1000 + i));
    assert.ok(results.slice(0, -1).every((u) => u === undefined));
    assert.deepEqual(results[results.length - 1]!.payload, payload);
    assert.equal(r.stats.completed, 1);
    assert.equal(r.stats.ignoredFragments, order.length - frags.length);
    assert.equal(r.pendingDatagrams, 0);
    assert.equal(r.pendingBytes, 0);
  }
  // Without a reassembler every fragment is undefined, the first one included.
  assert.ok(frags.every((f) => udpFromFrame(1, f) === undefined));
});

function assertChecksumIpv4Header(frame: Buffer): void {
  const hlen = (frame[14]! & 0x0f) * 4;
  assert.equal(internetChecksum(frame, 14, 14 + hlen), 0);
}

test('the reassembled IPv4 datagram has a clean header: total length, no fragment fields, good checksum', () => {
  const { frame } = bigUdp4(3000, 8);
  const r = new IpReassembler();
  const l = new PacketLayers();
  let whole: Buffer | undefined;
  for (const f of fragmentIpv4(frame, 1500)) {
    dissect(1, f, l);
    whole = r.push(f, l, 0) ?? whole;
  }
  assert.ok(whole !== undefined);
  assert.deepEqual(whole, frame.subarray(14)); // exactly the datagram that was fragmented
});

test('fragmentIpv4 copies only copy-flagged options into later fragments, and they reassemble', () => {
  const payload = Buffer.alloc(2000, 9);
  const frame = ethernetIpv4Udp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload, options: IPV4_OPTIONS });
  const frags = fragmentIpv4(frame, 600);
  assert.equal(frags[0]![14], 0x48);
  for (const f of frags.slice(1)) {
    assert.equal(f[14], 0x46); // 20 + Router Alert (4)
    assert.deepEqual(f.subarray(34, 38), IPV4_OPTIONS.subarray(0, 4));
  }
  frags.forEach(assertChecksumIpv4Header);
  const r = new IpReassembler();
  const got = frags.map((f) => udpFromFrame(1, f, r, 0)).filter((u) => u !== undefined);
  assert.deepEqual(got.map((u) => u.payload), [payload]);
  assert.throws(() => fragmentIpv4(ethernetIpv4Udp({ src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, payload, dontFragment: true }), 600), RangeError);
  assert.deepEqual(fragmentIpv4(UDP4, 1500), [UDP4]);
});

test('overlapping fragments drop the datagram; a conflicting end too', () => {
  const { frame } = bigUdp4(3000, 9);
  const frags = fragmentIpv4(frame, 1500); // data 1480, 1480, 48
  const r = new Ipv4Reassembler();
  // A forged second fragment starting 8 bytes early overlaps the first.
  const forged = Buffer.from(frags[1]!);
  forged.writeUInt16BE(forged.readUInt16BE(20) - 1 | 0x2000, 20);
  assert.equal(udpFromFrame(1, frags[0]!, r, 0), undefined);
  assert.equal(udpFromFrame(1, forged, r, 0), undefined);
  assert.equal(r.stats.malformed, 1);
  assert.equal(udpFromFrame(1, frags[1]!, r, 0), undefined);
  assert.equal(udpFromFrame(1, frags[2]!, r, 0), undefined); // the first fragment went with the dropped datagram
  assert.equal(r.stats.completed, 0);
  // Two last fragments that disagree on the end.
  const r2 = new IpReassembler();
  const otherEnd = Buffer.from(frags[2]!);
  otherEnd.writeUInt16BE(otherEnd.readUInt16BE(20) + 1, 20);
  udpFromFrame(1, frags[2]!, r2, 0);
  udpFromFrame(1, otherEnd, r2, 0);
  assert.equal(r2.stats.malformed, 1);
  // A fragment reaching past 65535 bytes (ping of death).
  const r3 = new IpReassembler();
  const pod = Buffer.from(frags[1]!);
  pod.writeUInt16BE(0x2000 | 8190, 20);
  udpFromFrame(1, pod, r3, 0);
  assert.equal(r3.stats.malformed, 1);
  assert.equal(r3.pendingDatagrams, 0);
});

test('pending datagrams expire by capture time, and limits evict the oldest', () => {
  const a = fragmentIpv4(bigUdp4(3000, 1).frame, 1500);
  const b = fragmentIpv4(bigUdp4(3000, 2).frame, 1500);
  const c = fragmentIpv4(bigUdp4(3000, 3).frame, 1500);

  const r = new IpReassembler({ timeoutMs: 1000 });
  udpFromFrame(1, a[0]!, r, 0);
  udpFromFrame(1, a[1]!, r, 999);
  assert.equal(r.pendingDatagrams, 1);
  assert.equal(udpFromFrame(1, a[2]!, r, 1001), undefined); // too late: expired first
  assert.equal(r.stats.expired, 1);
  assert.equal(r.pendingDatagrams, 1); // the late fragment starts a new datagram
  // Without a timestamp the reassembler's clock does not move.
  assert.equal(udpFromFrame(1, a[0]!, r), undefined);
  assert.ok(udpFromFrame(1, a[1]!, r) !== undefined);

  const small = new IpReassembler({ maxDatagrams: 2 });
  for (const f of [a[0]!, b[0]!, c[0]!]) udpFromFrame(1, f, small, 0);
  assert.equal(small.pendingDatagrams, 2);
  assert.equal(small.stats.evicted, 1);
  assert.equal(udpFromFrame(1, a[1]!, small, 0), undefined);
  assert.equal(udpFromFrame(1, a[2]!, small, 0), undefined); // a was evicted
  assert.ok(udpFromFrame(1, c[1]!, small, 0) === undefined && udpFromFrame(1, c[2]!, small, 0) !== undefined);

  const tight = new IpReassembler({ maxBytes: 2000 });
  udpFromFrame(1, a[0]!, tight, 0);
  udpFromFrame(1, b[0]!, tight, 0);
  assert.equal(tight.pendingDatagrams, 1);
  assert.ok(tight.pendingBytes <= 2000);
  assert.equal(tight.stats.evicted, 1);

  // Many datagrams that never complete stay within the limits.
  const bounded = new IpReassembler({ maxDatagrams: 50, maxBytes: 100_000 });
  for (let id = 0; id < 2000; id++) udpFromFrame(1, fragmentIpv4(bigUdp4(3000, id).frame, 1500)[0]!, bounded, id);
  assert.ok(bounded.pendingDatagrams <= 50 && bounded.pendingBytes <= 100_000);
});

test('IPv6 fragments reassemble, also behind a hop-by-hop header', () => {
  const payload = Buffer.alloc(4000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const frame = ethernetIpv6Udp({ src: '2001:db8::1', dst: '2001:db8::2', srcPort: 9, dstPort: 4739, payload });
  const frags = fragmentIpv6(frame, 1280, 0xdeadbeef);
  assert.equal(frags.length, 4);
  const p = parsePacket(1, frags[1]!);
  assert.deepEqual(p.fragment, { id: 0xdeadbeef, offset: 1232, more: true });
  const rand = prng(3);
  for (const order of [frags, shuffle(frags, rand)]) {
    const r = new IpReassembler();
    const got = order.map((f) => udpFromFrame(1, f, r, 0)).filter((u) => u !== undefined);
    assert.deepEqual(got.map((u) => u.payload), [payload]);
  }
  // Each fragment with a hop-by-hop header in its unfragmentable part.
  const hbh = frags.map((f) => {
    const ip = f.subarray(14);
    const fixed = Buffer.from(ip.subarray(0, 40));
    fixed[6] = 0;
    fixed.writeUInt16BE(ip.length - 40 + 8, 4);
    return Buffer.concat([f.subarray(0, 14), fixed, Buffer.from([44, 0]), PADN6, ip.subarray(40)]);
  });
  const r = new IpReassembler();
  const l = new PacketLayers();
  let whole: Buffer | undefined;
  for (const f of shuffle(hbh, rand)) {
    dissect(1, f, l);
    whole = r.push(f, l, 0) ?? whole;
  }
  assert.ok(whole !== undefined);
  assert.equal(whole[6], 0);
  assert.equal(whole[40], 17); // the hop-by-hop header now leads straight to UDP
  assert.equal(whole.readUInt16BE(4), whole.length - 40);
  assert.deepEqual(udpFromFrame(101, whole)!.payload, payload);
  assertChecksums(Buffer.concat([frame.subarray(0, 14), whole]));
});

test('fragmented datagrams agree with tshark reassembly', { skip: !hasTshark && 'tshark not installed' }, () => {
  withTmp((dir) => {
    const v6 = ethernetIpv6Udp({ src: '2001:db8::5', dst: '2001:db8::6', srcPort: 6343, dstPort: 6343, payload: Buffer.alloc(2500, 6) });
    const opt = ethernetIpv4Udp({ src: '10.1.1.1', dst: '10.2.2.2', srcPort: 3, dstPort: 4, payload: Buffer.alloc(1700, 1), options: IPV4_OPTIONS, id: 5 });
    const rand = prng(11);
    const frames = [
      ...shuffle(fragmentIpv4(bigUdp4(8000, 1).frame, 1500), rand),
      ...fragmentIpv6(v6, 1280, 5),
      ...[...fragmentIpv4(opt, 1000)].reverse(),
      UDP4,
    ];
    const file = join(dir, 'frag.pcap');
    writeFileSync(file, writePcap(frames.map((data, i) => ({ tsMs: i, data }))));
    const rows = tsharkFields(file, ['udp.srcport', 'udp.length', 'udp.checksum.status'], ['-o', 'udp.check_checksum:TRUE']);
    const r = new IpReassembler();
    const ours = frames.map((f, i) => {
      const u = udpFromFrame(1, f, r, i);
      return u === undefined ? ['', '', ''] : [String(u.srcPort), String(u.payload.length + 8), '1'];
    });
    assert.deepEqual(ours, rows.map((row) => (row[0] === '' ? ['', '', ''] : row)));
  });
});

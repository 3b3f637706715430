/**
 * Flow export messages generated with sluice's encoders, for fuzzing and tests that must not depend
 * on captured corpora: IPFIX with fixed, reduced-size and variable-length fields, enterprise and
 * unknown elements, RFC 6313 lists, options templates; NetFlow v9 with options templates; NetFlow
 * v5; and templates drawn at random from the IE registry with lengths right or wrong for their type.
 */
import {
  encodeNetflow5,
  IpfixMessageBuilder,
  Netflow9PacketBuilder,
  type EncField,
  type EncTemplate,
  type EncValue,
  type V5Record,
} from '../../src/wire/encode/ipfix.js';
import type { IeRegistry } from '../../src/wire/ie/registry.js';
import type { DataType } from '../../src/wire/ie/types.js';
import { VARLEN } from '../../src/wire/template.js';
import { Prng } from './prng.js';

const f = (id: number, length: number, pen?: number): EncField => (pen === undefined ? { id, length } : { id, length, pen });

/** Strings that stress JSON escaping: quotes, backslashes, controls, non-ASCII, bytes that are not UTF-8. */
const NASTY_STRINGS: readonly Buffer[] = [
  Buffer.from('eth0'),
  Buffer.from('quote " backslash \\ slash /'),
  Buffer.from('tab\tnewline\ncr\rnul\0bell\x07del\x7f'),
  Buffer.from('ünïcødé ✓ 日本 😀'),
  Buffer.from('\u2028line\u2029para'),
  Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0xff, 0xfe]),
  Buffer.from([0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf]), // UTF-8-encoded lone surrogates
  Buffer.alloc(0),
  Buffer.alloc(300, 0x41), // forces the 3-byte variable-length prefix
];

function stringValue(rng: Prng): Buffer {
  return rng.chance(0.6) ? rng.pick(NASTY_STRINGS) : rng.bytes(rng.int(0, 40));
}

/** A plausible value for a field of `type` and wire `length` (random bytes where no rule applies). */
function valueFor(rng: Prng, type: DataType | undefined, length: number): EncValue {
  if (length === VARLEN) return type === 'string' || type === undefined ? stringValue(rng) : rng.bytes(rng.int(0, 24));
  switch (type) {
    case 'ipv4Address':
      if (length === 4) return `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}`;
      break;
    case 'ipv6Address':
      if (length === 16) return rng.pick(['2001:db8::1', '::', '::1', '::ffff:192.0.2.1', '::192.0.2.1', 'fe80::1:2:3:4', `2001:db8:${rng.int(0, 0xffff).toString(16)}::${rng.int(0, 0xffff).toString(16)}`]);
      break;
    case 'string':
      return stringValue(rng);
    case 'dateTimeMilliseconds':
      if (length === 8) return BigInt(rng.pick([1_704_067_200_000, 0, 253_402_300_799_999, rng.u32() * 1000]));
      break;
    case 'boolean':
      if (length === 1) return rng.pick([1, 2, 0, 3, 255]);
      break;
  }
  return rng.bytes(length);
}

// ---- RFC 6313 list encodings -------------------------------------------------------------------

/** basicList: semantic, field id (E bit), element length, [PEN], elements (already encoded). */
export function basicList(semantic: number, id: number, elementLength: number, elements: readonly Buffer[], pen = 0): Buffer {
  const h = Buffer.alloc(pen ? 9 : 5);
  h[0] = semantic;
  h.writeUInt16BE(pen ? id | 0x8000 : id, 1);
  h.writeUInt16BE(elementLength, 3);
  if (pen) h.writeUInt32BE(pen, 5);
  const body = elements.map((e) => (elementLength === VARLEN ? varlen(e) : e));
  return Buffer.concat([h, ...body]);
}

/** subTemplateList: semantic, template id, records (already encoded). */
export function subTemplateList(semantic: number, templateId: number, records: readonly Buffer[]): Buffer {
  const h = Buffer.alloc(3);
  h[0] = semantic;
  h.writeUInt16BE(templateId, 1);
  return Buffer.concat([h, ...records]);
}

/** subTemplateMultiList: semantic, then blocks of (template id, block length, records). */
export function subTemplateMultiList(semantic: number, blocks: ReadonlyArray<{ templateId: number; records: readonly Buffer[] }>): Buffer {
  const parts: Buffer[] = [Buffer.from([semantic])];
  for (const b of blocks) {
    const body = Buffer.concat(b.records);
    const h = Buffer.alloc(4);
    h.writeUInt16BE(b.templateId, 0);
    h.writeUInt16BE(4 + body.length, 2);
    parts.push(h, body);
  }
  return Buffer.concat(parts);
}

function varlen(b: Buffer): Buffer {
  if (b.length < 255) return Buffer.concat([Buffer.from([b.length]), b]);
  const h = Buffer.from([255, 0, 0]);
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}

function u(n: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.writeUIntBE(n, 0, len);
  return b;
}

// ---- fixed IPFIX templates -------------------------------------------------------------------------

const T_V4: EncTemplate = {
  id: 256,
  fields: [f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(4, 1), f(6, 1), f(5, 1), f(1, 8), f(2, 8), f(152, 8), f(153, 8), f(10, 4), f(14, 4), f(56, 6), f(80, 6)],
};
/** IPv6 with reduced-size counters and sysUpTime-relative times (needs systemInitTime from options). */
const T_V6: EncTemplate = {
  id: 257,
  fields: [f(27, 16), f(28, 16), f(7, 2), f(11, 2), f(4, 1), f(6, 2), f(1, 4), f(2, 2), f(22, 4), f(21, 4), f(31, 3), f(139, 2)],
};
/** Variable-length, enterprise (reverse, Cisco), unknown-enterprise and odd-typed fields. */
const T_VAR: EncTemplate = {
  id: 258,
  fields: [
    f(8, 4),
    f(82, VARLEN),
    f(83, VARLEN),
    f(95, VARLEN),
    f(1, 8, 29305),
    f(2, 4, 29305),
    f(12235, VARLEN, 9),
    f(7, 6, 99_999),
    f(9999, VARLEN, 99_999),
    f(154, 8),
    f(156, 8),
    f(150, 4),
    f(161, 4),
    f(276, 1),
    f(320, 8),
  ],
};
/** Sub-template used inside lists. */
const T_SUB: EncTemplate = { id: 259, fields: [f(8, 4), f(7, 2), f(82, VARLEN)] };
/** Structured data: basicList, subTemplateList, subTemplateMultiList. */
const T_LISTS: EncTemplate = { id: 260, fields: [f(8, 4), f(291, VARLEN), f(292, VARLEN), f(293, VARLEN), f(1, 8)] };
/** Options: exporter time base and sampling for the domain. */
const T_OPT_INIT: EncTemplate = { id: 261, scopeCount: 1, fields: [f(149, 4), f(160, 8), f(305, 4), f(304, 2)] };
/** Options with a variable-length value and a list (interface table). */
const T_OPT_IF: EncTemplate = { id: 262, scopeCount: 1, fields: [f(10, 4), f(82, VARLEN), f(83, VARLEN), f(291, VARLEN)] };

function v4Record(rng: Prng): EncValue[] {
  const start = 1_704_067_200_000 + rng.int(0, 3_600_000);
  return [
    valueFor(rng, 'ipv4Address', 4),
    valueFor(rng, 'ipv4Address', 4),
    rng.int(0, 65535),
    rng.int(0, 65535),
    rng.pick([6, 17, 1, 47, 50, 132, 255]),
    rng.int(0, 255),
    rng.int(0, 255),
    BigInt(rng.pick([0, 40, 1500, rng.u32(), 2 ** 53 + 1])) ,
    rng.u32(),
    BigInt(start),
    BigInt(start + rng.int(0, 120_000)),
    rng.u32(),
    rng.u32(),
    rng.bytes(6),
    rng.bytes(6),
  ];
}

function v6Record(rng: Prng): EncValue[] {
  const up = rng.u32();
  return [valueFor(rng, 'ipv6Address', 16), valueFor(rng, 'ipv6Address', 16), rng.int(0, 65535), rng.int(0, 65535), 58, rng.int(0, 0x1ff), rng.u32(), rng.int(0, 65535), up, (up + rng.int(0, 60_000)) >>> 0, rng.int(0, 0xfffff), rng.int(0, 0xffff)];
}

function varRecord(rng: Prng): EncValue[] {
  return [
    valueFor(rng, 'ipv4Address', 4),
    stringValue(rng),
    stringValue(rng),
    rng.bytes(rng.int(0, 12)),
    rng.bytes(8),
    rng.u32(),
    stringValue(rng),
    rng.bytes(6),
    rng.bytes(rng.int(0, 30)),
    rng.bytes(8),
    rng.bytes(8),
    rng.u32(),
    rng.u32(),
    rng.pick([1, 2, 0, 7]),
    rng.pick([Buffer.from([0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7f, 0xf0, 0, 0, 0, 0, 0, 0]), rng.bytes(8)]),
  ];
}

function subRecord(rng: Prng): Buffer {
  return Buffer.concat([u(rng.u32(), 4), u(rng.int(0, 65535), 2), varlen(stringValue(rng))]);
}

function listsRecord(rng: Prng): EncValue[] {
  const sem = rng.pick([0, 1, 2, 3, 4, 0xff, 77]);
  const ports = basicList(sem, 7, 2, Array.from({ length: rng.int(0, 6) }, () => u(rng.int(0, 65535), 2)));
  const names = basicList(sem, 82, VARLEN, Array.from({ length: rng.int(0, 3) }, () => stringValue(rng)));
  const penList = basicList(sem, 1, 4, [u(rng.u32(), 4)], 29305);
  const stl = subTemplateList(sem, rng.pick([259, 259, 259, 260, 999]), Array.from({ length: rng.int(0, 3) }, () => subRecord(rng)));
  const stml = subTemplateMultiList(sem, [
    { templateId: 259, records: [subRecord(rng), subRecord(rng)] },
    { templateId: 256, records: [] },
    { templateId: 4242, records: [rng.bytes(5)] },
  ]);
  return [valueFor(rng, 'ipv4Address', 4), rng.pick([ports, names, penList]), stl, stml, rng.u32()];
}

/** A template of random registry elements with lengths mostly right and sometimes wrong for their type. */
function randomTemplate(rng: Prng, reg: IeRegistry, id: number, options: boolean): EncTemplate {
  const n = rng.int(1, 24);
  const fields: EncField[] = [];
  for (let k = 0; k < n; k++) {
    const pen = rng.pick([0, 0, 0, 0, 29305, 9, 2011, 35632, 99_999]);
    const eid = rng.chance(0.5) ? rng.pick([1, 2, 4, 6, 7, 8, 11, 12, 21, 22, 27, 28, 82, 150, 151, 152, 153, 154, 156, 158, 159, 160, 161, 162, 291, 292, 293]) : rng.int(1, 520);
    const type = reg.get(pen, eid)?.type;
    fields.push(f(eid, lengthFor(rng, type), pen === 0 ? undefined : pen));
  }
  return options ? { id, fields, scopeCount: rng.int(1, n) } : { id, fields };
}

/** Time elements: the time module reads each with its own rules (relative, absolute, durations). */
const TIME_IDS = [21, 22, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162];

/**
 * A template built around time elements: one usable start or end time, then durations and other
 * time elements with lengths right or wrong for their type, sometimes a variable-length field.
 */
function timeTemplate(rng: Prng, reg: IeRegistry, id: number): EncTemplate {
  const anchor = rng.pick([[22, 4], [21, 4], [152, 8], [153, 8], [150, 4], [151, 4], [154, 8], [157, 8], [158, 4], [159, 4]] as const);
  const fields: EncField[] = [f(8, 4), f(anchor[0], anchor[1])];
  for (let k = rng.int(1, 3); k > 0; k--) {
    const eid = rng.chance(0.5) ? rng.pick([161, 162]) : rng.pick(TIME_IDS);
    fields.push(f(eid, lengthFor(rng, reg.get(0, eid)?.type)));
  }
  if (rng.chance(0.2)) fields.push(f(82, VARLEN));
  return { id, fields };
}

const NATURAL_LENGTH: Partial<Record<DataType, readonly number[]>> = {
  unsigned8: [1],
  unsigned16: [1, 2],
  unsigned32: [1, 2, 3, 4],
  unsigned64: [1, 2, 4, 6, 7, 8],
  signed8: [1],
  signed16: [2],
  signed32: [4, 3],
  signed64: [8, 5, 7],
  float32: [4],
  float64: [8, 4],
  boolean: [1],
  macAddress: [6],
  ipv4Address: [4],
  ipv6Address: [16],
  dateTimeSeconds: [4],
  dateTimeMilliseconds: [8, 6, 4],
  dateTimeMicroseconds: [8],
  dateTimeNanoseconds: [8],
  string: [VARLEN, 16, 32],
  octetArray: [VARLEN, 1, 8, 20],
  basicList: [VARLEN],
  subTemplateList: [VARLEN],
  subTemplateMultiList: [VARLEN],
};

function lengthFor(rng: Prng, type: DataType | undefined): number {
  const natural = type === undefined ? undefined : NATURAL_LENGTH[type];
  if (natural !== undefined && rng.chance(0.75)) return rng.pick(natural);
  return rng.pick([0, 1, 2, 3, 5, 7, 9, 12, 16, 17, 33, VARLEN, VARLEN]);
}

/** Records for any template: values by type, lists filled with list-shaped (or random) bytes. */
function recordFor(rng: Prng, reg: IeRegistry, t: EncTemplate): EncValue[] {
  return t.fields.map((fl) => {
    const type = reg.get(fl.pen ?? 0, fl.id)?.type;
    if (fl.length === VARLEN && (type === 'basicList' || type === 'subTemplateList' || type === 'subTemplateMultiList') && rng.chance(0.7)) {
      return type === 'basicList'
        ? basicList(rng.int(0, 4), rng.pick([7, 82, 291, 292, 8]), rng.pick([2, 4, VARLEN, 0]), [rng.bytes(2), rng.bytes(4)])
        : type === 'subTemplateList'
          ? subTemplateList(rng.int(0, 4), rng.pick([259, 260, 300, 301]), [subRecord(rng)])
          : subTemplateMultiList(rng.int(0, 4), [{ templateId: rng.pick([259, 260, 300]), records: [subRecord(rng)] }]);
    }
    return valueFor(rng, type, fl.length);
  });
}

export interface GeneratedMessages {
  /** Datagrams in an order that makes sense to a collector: templates before their data. */
  readonly ipfix: Buffer[];
  readonly netflow9: Buffer[];
  readonly netflow5: Buffer[];
}

/** Messages from every encoder; deterministic for a seed. `rounds` scales how many data messages. */
export function generateMessages(reg: IeRegistry, seed: number, rounds = 20): GeneratedMessages {
  const rng = new Prng(seed);
  const exportTimeSec = 1_704_067_200;
  let seq = 0;
  const ipfix: Buffer[] = [];
  const hdr = (domainId = 1) => ({ domainId, exportTimeSec: exportTimeSec + seq, sequence: seq++ });

  const fixed = [T_V4, T_V6, T_VAR, T_SUB, T_LISTS];
  const opts = [T_OPT_INIT, T_OPT_IF];
  const randoms = [
    ...Array.from({ length: 24 }, (_, i) => randomTemplate(rng, reg, 300 + i, i % 6 === 5)),
    ...Array.from({ length: 40 }, (_, i) => timeTemplate(rng, reg, 330 + i)),
  ];
  ipfix.push(new IpfixMessageBuilder(hdr()).templates([...fixed, ...opts]).build());
  ipfix.push(new IpfixMessageBuilder(hdr()).templates(randoms).build());
  ipfix.push(
    new IpfixMessageBuilder(hdr())
      .data(T_OPT_INIT, [[1, BigInt(1_704_067_000_000), 100, 1]])
      .data(T_OPT_IF, [[rng.u32(), stringValue(rng), stringValue(rng), basicList(3, 82, VARLEN, [Buffer.from('a'), Buffer.from('b')])]])
      .build(),
  );
  for (let r = 0; r < rounds; r++) {
    const m = new IpfixMessageBuilder(hdr());
    m.data(T_V4, Array.from({ length: rng.int(1, 20) }, () => v4Record(rng)), rng.chance(0.3));
    m.data(T_V6, Array.from({ length: rng.int(1, 8) }, () => v6Record(rng)), rng.chance(0.3));
    m.data(T_VAR, Array.from({ length: rng.int(1, 5) }, () => varRecord(rng)));
    m.data(T_LISTS, Array.from({ length: rng.int(1, 4) }, () => listsRecord(rng)));
    ipfix.push(m.build());
    const rm = new IpfixMessageBuilder(hdr());
    for (let k = 0; k < 3; k++) {
      const t = rng.pick(randoms);
      rm.data(t, Array.from({ length: rng.int(1, 4) }, () => recordFor(rng, reg, t)), rng.chance(0.5));
    }
    ipfix.push(rm.build());
  }
  // Data for every random template at least once, four templates to a message.
  for (let i = 0; i < randoms.length; i += 4) {
    const m = new IpfixMessageBuilder(hdr());
    for (const t of randoms.slice(i, i + 4)) m.data(t, Array.from({ length: rng.int(1, 3) }, () => recordFor(rng, reg, t)));
    ipfix.push(m.build());
  }
  // Withdrawals and a redefinition (meaningful over TCP; counted as ignored over UDP).
  ipfix.push(new IpfixMessageBuilder(hdr()).withdraw(300).withdraw(2).withdraw(3, true).templates([T_V4]).build());
  // A second observation domain in the same message stream.
  ipfix.push(new IpfixMessageBuilder(hdr(7)).templates([T_V4]).data(T_V4, [v4Record(rng)]).build());

  // NetFlow v9: field types 1-127 (IANA), above 127 (netflow pseudo-enterprise), options with scopes.
  const netflow9: Buffer[] = [];
  const n9a: EncTemplate = { id: 256, fields: [f(8, 4), f(12, 4), f(15, 4), f(7, 2), f(11, 2), f(4, 1), f(6, 1), f(1, 4), f(2, 4), f(22, 4), f(21, 4), f(10, 2), f(14, 2), f(16, 2), f(17, 2), f(9, 1), f(13, 1)] };
  const n9b: EncTemplate = { id: 257, fields: [f(27, 16), f(28, 16), f(7, 2), f(11, 2), f(4, 1), f(1, 8), f(2, 8), f(22, 4), f(21, 4), f(225, 4), f(226, 4), f(227, 2), f(228, 2), f(40000, 4), f(33000, 2)] };
  const n9opt: EncTemplate = { id: 258, scopeCount: 2, fields: [f(1, 4), f(2, 2), f(34, 4), f(35, 1), f(48, 1), f(36, 2), f(37, 2), f(82, 16)] };
  const n9rand = Array.from({ length: 8 }, (_, i) => randomTemplate(rng, reg, 400 + i, false)).map((t) => ({ ...t, fields: t.fields.filter((fl) => fl.length !== VARLEN && (fl.pen ?? 0) === 0) })).filter((t) => t.fields.length > 0);
  const v9h = () => ({ sourceId: 5, unixSecs: exportTimeSec + seq, sysUpTimeMs: 3_600_000 + seq * 10, sequence: seq++ });
  netflow9.push(new Netflow9PacketBuilder(v9h()).templates([n9a, n9b, n9opt, ...n9rand]).build());
  netflow9.push(new Netflow9PacketBuilder(v9h()).data(n9opt, [[1, 2, 100, 2, 1, 10, 20, 'Gi0/0/1']]).build());
  for (let r = 0; r < rounds; r++) {
    const m = new Netflow9PacketBuilder(v9h());
    m.data(n9a, Array.from({ length: rng.int(1, 20) }, () => n9a.fields.map((fl) => valueFor(rng, reg.get(0, fl.id)?.type, fl.length))));
    m.data(n9b, Array.from({ length: rng.int(1, 10) }, () => n9b.fields.map((fl) => (fl.id === 40000 || fl.id === 33000 ? rng.bytes(fl.length) : valueFor(rng, reg.get(0, fl.id)?.type, fl.length)))));
    if (n9rand.length > 0) {
      const t = rng.pick(n9rand);
      m.data(t, [recordFor(rng, reg, t)]);
    }
    netflow9.push(m.build());
  }

  const netflow5: Buffer[] = [];
  for (let r = 0; r < rounds; r++) {
    const recs: V5Record[] = Array.from({ length: rng.int(1, 30) }, () => ({
      src: valueFor(rng, 'ipv4Address', 4) as string,
      dst: valueFor(rng, 'ipv4Address', 4) as string,
      packets: rng.u32(),
      octets: rng.u32(),
      firstMs: rng.u32(),
      lastMs: rng.u32(),
      srcPort: rng.int(0, 65535),
      dstPort: rng.int(0, 65535),
      protocol: rng.int(0, 255),
      tcpFlags: rng.int(0, 255),
      tos: rng.int(0, 255),
      srcAs: rng.int(0, 65535),
      dstAs: rng.int(0, 65535),
      srcMask: rng.int(0, 32),
      dstMask: rng.int(0, 32),
    }));
    netflow5.push(encodeNetflow5({ sysUpTimeMs: rng.u32(), unixSecs: exportTimeSec + r, unixNsecs: rng.int(0, 999_999_999), sequence: r * 30, engineType: rng.int(0, 255), engineId: rng.int(0, 255), sampling: rng.int(0, 0xffff) }, recs));
  }
  return { ipfix, netflow9, netflow5 };
}

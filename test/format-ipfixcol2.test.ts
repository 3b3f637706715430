/**
 * The IPFIXcol2 JSON output contract, behaviour by behaviour, as exact text. Each expectation
 * comes from IPFIXcol2's source (src/plugins/output/json/src/Storage.cpp) or libfds'
 * (src/converters/json.c, src/template_mgr/template.c); see test/fixtures/json-golden/README.md.
 * Every case is also run through the byte path, which must give the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteOutput } from '../src/format/byte-output.js';
import { Ipfixcol2JsonFormatter, type JsonFormatOptions } from '../src/format/ipfixcol2-json.js';
import * as J from '../src/format/json-values.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type FlowBatch, type TemplateEvent, type TransportSession } from '../src/wire/batch.js';
import { IpfixMessageBuilder, type EncTemplate, type EncValue } from '../src/wire/encode/ipfix.js';
import { IeRegistry, protocolKeyword } from '../src/wire/ie/registry.js';
import { VARLEN } from '../src/wire/template.js';
import { parseFormatSpec } from '../src/format/spec.js';

const EXPORT = 1_700_000_000;
const SESSION = makeSession('udp', '192.0.2.1', 4444, 4739);

/** Decodes one message and returns the formatter's lines (string path, checked against the byte path). */
function lines(opts: Partial<JsonFormatOptions>, t: EncTemplate, rows: EncValue[][], session: TransportSession = SESSION): string[] {
  const f = new Ipfixcol2JsonFormatter(opts, protocolKeyword);
  const batches: FlowBatch[] = [];
  const p = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: (b) => batches.push(b) });
  p.handle(new IpfixMessageBuilder({ domainId: 7, exportTimeSec: EXPORT, sequence: 3 }).templates([t]).data(t, rows).build(), session, EXPORT * 1000);
  let text = '';
  const out = new ByteOutput(16);
  for (const b of batches) {
    text += f.formatBatch(b);
    f.formatBatchInto(b, out);
  }
  assert.equal(out.view().toString('utf8'), text, 'byte path = string path');
  return text.split('\n').filter((l) => l !== '');
}

const one = (opts: Partial<JsonFormatOptions>, fields: EncTemplate['fields'], row: EncValue[]) => lines(opts, { id: 300, fields }, [row])[0]!;

test('strings: libfds escaping, control characters, invalid UTF-8', () => {
  const s = (bytes: number[], nonPrintableChar: boolean) => one({ nonPrintableChar }, [{ id: 82, length: VARLEN }], [Buffer.from(bytes)]);
  const raw = [0x61, 0x22, 0x5c, 0x0a, 0x09, 0x01, 0x7f, 0xc3, 0xbc, 0x85, 0xff, 0x00];
  // nonPrintableChar=false: \" \\ \n \t, \u00XX in uppercase (also DEL and a lone C1 byte), U+FFFD for invalid bytes, NUL kept
  assert.equal(s(raw, false), '{"@type":"ipfix.entry","iana:interfaceName":"a\\"\\\\\\n\\t\\u0001\\u007Fü\\u0085\ufffd\\u0000"}');
  // default (true): quote and backslash escaped, everything non-printable or invalid dropped
  assert.equal(s(raw, true), '{"@type":"ipfix.entry","iana:interfaceName":"a\\"\\\\ü"}');
  // overlong / surrogate forms are not passed through (sluice always writes valid UTF-8)
  assert.equal(s([0xc0, 0x80, 0xed, 0xa0, 0x80], false), '{"@type":"ipfix.entry","iana:interfaceName":"\ufffd\\u0080\ufffd\ufffd\\u0080"}');
});

test('floats: %.6g for float32, %.15g for float64, NaN and infinities as strings', () => {
  assert.equal(J.float(Math.fround(100.33540344238281), 6), '100.335');
  assert.equal(J.float(Math.PI, 15), '3.14159265358979');
  assert.equal(J.float(1e20, 15), '1e+20');
  assert.equal(J.float(0.0001, 6), '0.0001');
  assert.equal(J.float(0.00001234, 6), '1.234e-05');
  assert.equal(J.float(123456789, 6), '1.23457e+08');
  assert.equal(J.float(-0, 6), '-0');
  assert.equal(J.float(NaN, 15), '"NaN"');
  assert.equal(J.float(-Infinity, 15), '"-Infinity"');
  const b = Buffer.alloc(8);
  b.writeDoubleBE(Infinity);
  assert.equal(one({}, [{ id: 320, length: 8 }], [b]), '{"@type":"ipfix.entry","iana:absoluteError":"Infinity"}');
});

test('protocol and tcpControlBits of a size libfds cannot format are null; addresses go by size', () => {
  assert.equal(one({}, [{ id: 4, length: 2 }, { id: 6, length: 4 }], [6, 0x12]), '{"@type":"ipfix.entry","iana:protocolIdentifier":null,"iana:tcpControlBits":null}');
  assert.equal(one({}, [{ id: 6, length: 2 }], [0x0112]), '{"@type":"ipfix.entry","iana:tcpControlBits":".A..S."}');
  assert.equal(one({ protocol: 'raw', tcpFlags: 'raw' }, [{ id: 4, length: 2 }], [6]), '{"@type":"ipfix.entry","iana:protocolIdentifier":6}');
  assert.equal(one({}, [{ id: 8, length: 16 }], ['2001:db8::1']), '{"@type":"ipfix.entry","iana:sourceIPv4Address":"2001:db8::1"}');
  assert.equal(one({}, [{ id: 8, length: 2 }], [1]), '{"@type":"ipfix.entry","iana:sourceIPv4Address":null}');
});

test('dates: 4 bytes for dateTimeSeconds, 8 for the others, else null; ISO 8601 UTC milliseconds or Unix ms', () => {
  const sec = Buffer.from([0x65, 0x53, 0xf1, 0x00]); // 1700000000
  const ms = Buffer.alloc(8);
  ms.writeBigUInt64BE(1_700_000_000_123n);
  assert.equal(
    one({}, [{ id: 150, length: 4 }, { id: 152, length: 8 }, { id: 153, length: 4 }, { id: 151, length: 8 }], [sec, ms, sec, ms]),
    '{"@type":"ipfix.entry","iana:flowStartSeconds":"2023-11-14T22:13:20.000Z","iana:flowStartMilliseconds":"2023-11-14T22:13:20.123Z","iana:flowEndMilliseconds":null,"iana:flowEndSeconds":null}',
  );
  assert.equal(one({ timestamp: 'unix' }, [{ id: 150, length: 4 }, { id: 152, length: 8 }], [sec, ms]), '{"@type":"ipfix.entry","iana:flowStartSeconds":1700000000000,"iana:flowStartMilliseconds":1700000000123}');
});

test('NTP times as text: the fraction rounded to nanoseconds first, as fds_get_datetime_hp_be does', () => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(2208988800 + 5, 0);
  b.writeUInt32BE(4294967, 4); // 0.999999931 ms -> 999999.931 ns rounds to 1000000 ns = 1 ms
  assert.equal(J.ntpMsText(b, 0, false), 5001);
  assert.equal(Math.floor(J.ntpMs(b, 0, false)), 5000); // Unix ms: libfds' low-precision getter cuts
  b.writeUInt32BE(2147483648, 4);
  assert.equal(J.ntpMsText(b, 0, true), 5500);
});

test('repeated elements: one array at the position of the last occurrence', () => {
  const fields = [{ id: 8, length: 4 }, { id: 7, length: 2 }, { id: 8, length: 4 }, { id: 11, length: 2 }];
  assert.equal(
    one({}, fields, ['10.0.0.1', 1, '10.0.0.2', 2]),
    '{"@type":"ipfix.entry","iana:sourceTransportPort":1,"iana:sourceIPv4Address":["10.0.0.1","10.0.0.2"],"iana:destinationTransportPort":2}',
  );
});

test('detailedInfo: Storage.cpp fields and order; exportTime in header seconds; no srcAddr without an IP', () => {
  const fields = [{ id: 2, length: 4 }];
  // header 16 + template set (4 + 4 + 4) + data set (4 + 4)
  const len = 16 + 12 + 8;
  for (const timestamp of ['formatted', 'unix'] as const) {
    assert.equal(
      one({ detailedInfo: true, timestamp }, fields, [5]),
      `{"@type":"ipfix.entry","iana:packetDeltaCount":5,"ipfix:exportTime":${EXPORT},"ipfix:seqNumber":3,"ipfix:odid":7,"ipfix:msgLength":${len},"ipfix:srcAddr":"192.0.2.1","ipfix:templateId":300}`,
    );
  }
  const file = makeSession('file', 'capture.pcap', 0, 0);
  assert.equal(
    lines({ detailedInfo: true }, { id: 300, fields }, [[5]], file)[0],
    `{"@type":"ipfix.entry","iana:packetDeltaCount":5,"ipfix:exportTime":${EXPORT},"ipfix:seqNumber":3,"ipfix:odid":7,"ipfix:msgLength":${len},"ipfix:templateId":300}`,
  );
});

test('templateInfo: (options) template records as convert_tmplt_rec() writes them', () => {
  const events: TemplateEvent[] = [];
  const p = new DecodeStage({ registry: IeRegistry.builtin(), onBatch: () => {}, onTemplate: (ev) => events.push(ev) });
  const t: EncTemplate = { id: 300, fields: [{ id: 8, length: 4 }, { id: 1, length: 8, pen: 29305 }] };
  const o: EncTemplate = { id: 301, scopeCount: 1, fields: [{ id: 149, length: 4 }, { id: 41, length: 8 }] };
  const msg = new IpfixMessageBuilder({ domainId: 7, exportTimeSec: EXPORT, sequence: 3 }).templates([t, o]).build();
  p.handle(msg, SESSION, 0);
  const tcp = makeSession('tcp', '192.0.2.1', 5000, 4739);
  const withdrawal = new IpfixMessageBuilder({ domainId: 7, exportTimeSec: EXPORT, sequence: 4 }).withdraw(300).build();
  p.handle(new IpfixMessageBuilder({ domainId: 7, exportTimeSec: EXPORT, sequence: 3 }).templates([t]).build(), tcp, 0);
  p.handle(withdrawal, tcp, 0);
  const f = new Ipfixcol2JsonFormatter({ templateInfo: true, detailedInfo: true }, protocolKeyword);
  const text = events.map((e) => f.formatTemplate(e.ctx, e.template, e.withdrawn)).join('');
  const h = `"ipfix:exportTime":${EXPORT},"ipfix:seqNumber":3,"ipfix:odid":7,"ipfix:msgLength":${msg.length},"ipfix:srcAddr":"192.0.2.1"`;
  const tcpLen = 16 + 4 + 16;
  assert.equal(
    text,
    `{"@type":"ipfix.template","ipfix:templateId":300,${h},"ipfix:fields":[{"ipfix:elementId":8,"ipfix:enterpriseId":0,"ipfix:fieldLength":4},{"ipfix:elementId":1,"ipfix:enterpriseId":29305,"ipfix:fieldLength":8}]}\n` +
      `{"@type":"ipfix.optionsTemplate","ipfix:templateId":301,"ipfix:scopeCount":1,${h},"ipfix:fields":[{"ipfix:elementId":149,"ipfix:enterpriseId":0,"ipfix:fieldLength":4},{"ipfix:elementId":41,"ipfix:enterpriseId":0,"ipfix:fieldLength":8}]}\n` +
      // the same template over TCP, then its withdrawal: printed with an empty field list
      `{"@type":"ipfix.template","ipfix:templateId":300,"ipfix:exportTime":${EXPORT},"ipfix:seqNumber":3,"ipfix:odid":7,"ipfix:msgLength":${tcpLen},"ipfix:srcAddr":"192.0.2.1","ipfix:fields":[{"ipfix:elementId":8,"ipfix:enterpriseId":0,"ipfix:fieldLength":4},{"ipfix:elementId":1,"ipfix:enterpriseId":29305,"ipfix:fieldLength":8}]}\n` +
      `{"@type":"ipfix.template","ipfix:templateId":300,"ipfix:exportTime":${EXPORT},"ipfix:seqNumber":4,"ipfix:odid":7,"ipfix:msgLength":${withdrawal.length},"ipfix:srcAddr":"192.0.2.1","ipfix:fields":[]}\n`,
  );
});

test('splitBiflow: forward record without reverse fields, reverse record as libfds reverse view', () => {
  const t: EncTemplate = {
    id: 310,
    fields: [
      { id: 8, length: 4 }, // sourceIPv4Address (key: swapped in the reverse view)
      { id: 12, length: 4 }, // destinationIPv4Address
      { id: 7, length: 2 },
      { id: 11, length: 2 },
      { id: 4, length: 1 }, // protocolIdentifier (non-directional key: copied)
      { id: 1, length: 8 }, // octetDeltaCount (forward, has a reverse twin: left out of the reverse view)
      { id: 2, length: 4 }, // packetDeltaCount (no reverse twin: a common field, copied)
      { id: 1, length: 8, pen: 29305 }, // octetDeltaCount@reverse
      { id: 6, length: 1, pen: 29305 }, // tcpControlBits@reverse (reverse only)
    ],
  };
  const row: EncValue[] = ['10.0.0.1', '10.0.0.2', 1000, 443, 6, 100n, 3, 200n, 0x12];
  assert.deepEqual(lines({}, t, [row]), [
    '{"@type":"ipfix.entry","iana:sourceIPv4Address":"10.0.0.1","iana:destinationIPv4Address":"10.0.0.2","iana:sourceTransportPort":1000,"iana:destinationTransportPort":443,"iana:protocolIdentifier":"TCP","iana:octetDeltaCount":100,"iana:packetDeltaCount":3,"iana@reverse:octetDeltaCount@reverse":200,"iana@reverse:tcpControlBits@reverse":".A..S."}',
  ]);
  assert.deepEqual(lines({ splitBiflow: true }, t, [row]), [
    '{"@type":"ipfix.entry","iana:sourceIPv4Address":"10.0.0.1","iana:destinationIPv4Address":"10.0.0.2","iana:sourceTransportPort":1000,"iana:destinationTransportPort":443,"iana:protocolIdentifier":"TCP","iana:octetDeltaCount":100,"iana:packetDeltaCount":3}',
    '{"@type":"ipfix.entry","iana:destinationIPv4Address":"10.0.0.1","iana:sourceIPv4Address":"10.0.0.2","iana:destinationTransportPort":1000,"iana:sourceTransportPort":443,"iana:protocolIdentifier":"TCP","iana:packetDeltaCount":3,"iana:octetDeltaCount":200,"iana:tcpControlBits":".A..S."}',
  ]);
  assert.deepEqual(lines({ splitBiflow: true, numericNames: true }, t, [row])[1], '{"@type":"ipfix.entry","en0:id12":"10.0.0.1","en0:id8":"10.0.0.2","en0:id11":1000,"en0:id7":443,"en0:id4":"TCP","en0:id2":3,"en0:id1":200,"en0:id6":".A..S."}');
  // a template without reverse elements is not split
  assert.equal(lines({ splitBiflow: true }, { id: 311, fields: [{ id: 2, length: 4 }] }, [[1]]).length, 1);
});

test('--format accepts every option, with clear errors', () => {
  assert.deepEqual(parseFormatSpec('json,splitBiflow,timestamp=unix,detailedInfo=false'), { splitBiflow: true, timestamp: 'unix', detailedInfo: false });
  assert.throws(() => parseFormatSpec('json,splitbiflow=true'), /unknown option "splitbiflow".*splitBiflow/);
  assert.throws(() => parseFormatSpec('json,timestamp=iso'), /timestamp must be one of formatted\|unix/);
  assert.throws(() => parseFormatSpec('json,ignoreUnknown=maybe'), /ignoreUnknown takes true\|false/);
  assert.throws(() => parseFormatSpec('json,timestamp=unix,timestamp=formatted'), /timestamp given twice/);
  assert.throws(() => parseFormatSpec('csv'), /unknown format "csv"/);
});

/**
 * Unit tests of the probe: the flow cache (timeouts, FIN/RST, bound, biflow), TCP RTT and
 * retransmissions, payload names, sampling, and the exporter's messages decoded back by sluice's
 * own decoder (DecodeStage) for IPFIX, NetFlow v9 and v5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ethernetIpv4Tcp, ethernetIpv4Udp, ethernetIpv6Udp, ethernetIpv4Icmp, TcpFlag } from '../src/wire/packet/build.js';
import { LinkType } from '../src/wire/packet/parse.js';
import { Meter, DEFAULT_METER_OPTIONS, type MeterOptions } from '../src/probe/meter.js';
import { FlowEndReason, type Flow } from '../src/probe/flow.js';
import { FlowExporter, type ExporterOptions } from '../src/probe/exporter.js';
import { dnsQueryName, httpHost, tlsServerName } from '../src/probe/payload.js';
import { DecodeStage } from '../src/pipeline/decode.js';
import { makeSession, type FlowBatch } from '../src/wire/batch.js';
import { decodeRecord, type FieldValue } from '../src/wire/values.js';
import { loadRegistry } from '../src/model/registry.js';
import { Prng } from './helpers/prng.js';

const T0 = 1_704_067_200_000;
const ETH = LinkType.ETHERNET;

function meter(o: Partial<MeterOptions> = {}): { m: Meter; out: Flow[] } {
  const out: Flow[] = [];
  const m = new Meter({ ...DEFAULT_METER_OPTIONS, ...o }, (f) => out.push(f));
  return { m, out };
}

const tcp = (fromClient: boolean, flags: number, seq = 1000, payload = Buffer.alloc(0), ack = 0) =>
  fromClient
    ? ethernetIpv4Tcp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 40000, dstPort: 443, flags, seq, ack, payload })
    : ethernetIpv4Tcp({ src: '198.51.100.1', dst: '192.0.2.1', srcPort: 443, dstPort: 40000, flags, seq, ack, payload });
const udp = (i: number, payload: Buffer = Buffer.alloc(10)) => ethernetIpv4Udp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 1000 + i, dstPort: 53, payload });

test('inactive timeout: a gap longer than the timeout starts a new flow, measured in packet time', () => {
  const { m, out } = meter({ inactiveTimeoutMs: 30_000 });
  m.packet(ETH, udp(0), T0);
  m.packet(ETH, udp(0), T0 + 29_000);
  assert.equal(out.length, 0);
  m.packet(ETH, udp(0), T0 + 29_000 + 30_000);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.endReason, FlowEndReason.IDLE_TIMEOUT);
  assert.equal(out[0]!.fwd.packets, 2);
  assert.equal(out[0]!.fwd.lastMs - out[0]!.fwd.firstMs, 29_000);
  m.flush();
  assert.equal(out.length, 2);
  assert.equal(out[1]!.endReason, FlowEndReason.FORCED_END);
  assert.equal(m.cache.counters.expiredIdle, 1);
});

test('active timeout: a flow that never goes idle is exported every active-timeout', () => {
  const { m, out } = meter({ activeTimeoutMs: 300_000, inactiveTimeoutMs: 30_000 });
  for (let t = 0; t <= 700_000; t += 10_000) m.packet(ETH, udp(0), T0 + t);
  m.flush();
  assert.deepEqual(out.map((f) => f.endReason), [FlowEndReason.ACTIVE_TIMEOUT, FlowEndReason.ACTIVE_TIMEOUT, FlowEndReason.FORCED_END]);
  assert.deepEqual(out.map((f) => f.fwd.packets), [30, 30, 11]);
  // The sweep runs on a 250 ms grid: no flow outlives the timeout by more.
  for (const f of out.slice(0, 2)) assert.ok(f.fwd.lastMs - f.fwd.firstMs < 300_000);
});

test('RST exports at once; FIN waits out the FIN timeout so the closing ACKs stay in the flow', () => {
  const { m, out } = meter({ finTimeoutMs: 2000 });
  m.packet(ETH, tcp(true, TcpFlag.SYN), T0);
  m.packet(ETH, tcp(true, TcpFlag.FIN | TcpFlag.ACK), T0 + 10);
  m.packet(ETH, tcp(true, TcpFlag.ACK), T0 + 20);
  assert.equal(out.length, 0);
  m.advance(T0 + 1500);
  assert.equal(out.length, 0);
  m.advance(T0 + 2300);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.endReason, FlowEndReason.END_OF_FLOW);
  assert.equal(out[0]!.fwd.packets, 3);
  assert.equal(out[0]!.fwd.tcpFlags, TcpFlag.SYN | TcpFlag.FIN | TcpFlag.ACK);

  m.packet(ETH, tcp(false, TcpFlag.RST), T0 + 3000);
  assert.equal(out.length, 2);
  assert.equal(out[1]!.endReason, FlowEndReason.END_OF_FLOW);
  assert.equal(m.cache.size, 0);
});

test('the cache bound expires the least recently active flows early and counts them', () => {
  const { m, out } = meter({ maxFlows: 8 });
  for (let i = 0; i < 20; i++) m.packet(ETH, udp(i), T0 + i);
  assert.ok(m.cache.size <= 8);
  assert.equal(m.cache.counters.expiredEmergency, 12);
  assert.deepEqual(out.map((f) => f.srcPort), Array.from({ length: 12 }, (_, i) => 1000 + i), 'oldest first');
  assert.ok(out.every((f) => f.endReason === FlowEndReason.LACK_OF_RESOURCES));
  m.flush();
  assert.equal(out.length, 20, 'no flow is lost');
});

test('uniflow keys each direction apart; biflow joins them with reverse counters', () => {
  for (const biflow of [false, true]) {
    const { m, out } = meter({ biflow });
    m.packet(ETH, tcp(true, TcpFlag.SYN, 100), T0);
    m.packet(ETH, tcp(false, TcpFlag.SYN | TcpFlag.ACK, 900, Buffer.alloc(0), 101), T0 + 10);
    m.packet(ETH, tcp(true, TcpFlag.ACK, 101, Buffer.alloc(0), 901), T0 + 25);
    m.packet(ETH, tcp(true, TcpFlag.ACK | TcpFlag.PSH, 101, Buffer.alloc(100), 901), T0 + 30);
    m.packet(ETH, tcp(false, TcpFlag.ACK, 901, Buffer.alloc(0), 201), T0 + 40);
    m.flush();
    if (!biflow) {
      assert.equal(out.length, 2);
      const c = out.find((f) => f.srcPort === 40000)!;
      const s = out.find((f) => f.srcPort === 443)!;
      assert.equal(c.fwd.packets, 3);
      assert.equal(s.fwd.packets, 2);
      assert.equal(c.rttUs, 25_000, 'SYN to the handshake ACK, on the initiator flow');
      assert.equal(s.rttUs, -1);
    } else {
      assert.equal(out.length, 1);
      const f = out[0]!;
      assert.equal(f.srcPort, 40000, 'the initiator is the forward side');
      assert.equal(f.fwd.packets, 3);
      assert.equal(f.rev.packets, 2);
      assert.equal(f.fwd.octets, 3 * 40 + 100);
      assert.equal(f.rev.tcpFlags, TcpFlag.SYN | TcpFlag.ACK);
      assert.equal(f.rev.firstMs, T0 + 10);
      assert.equal(f.rttUs, 25_000);
    }
  }
});

test('biflow FIN export waits for FIN in both directions', () => {
  const { m, out } = meter({ biflow: true, finTimeoutMs: 1000 });
  m.packet(ETH, tcp(true, TcpFlag.FIN | TcpFlag.ACK), T0);
  m.advance(T0 + 5000);
  assert.equal(out.length, 0, 'half-closed: still open');
  m.packet(ETH, tcp(false, TcpFlag.FIN | TcpFlag.ACK), T0 + 5000);
  m.advance(T0 + 6500);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.endReason, FlowEndReason.END_OF_FLOW);
});

test('retransmissions: a segment whose sequence range was seen counts once per resend', () => {
  const { m, out } = meter();
  const data = Buffer.alloc(500);
  m.packet(ETH, tcp(true, TcpFlag.ACK, 1000, data), T0);
  m.packet(ETH, tcp(true, TcpFlag.ACK, 1500, data), T0 + 1);
  m.packet(ETH, tcp(true, TcpFlag.ACK, 1000, data), T0 + 200); // resend of the first
  m.packet(ETH, tcp(true, TcpFlag.ACK, 2000, data), T0 + 201);
  m.packet(ETH, tcp(true, TcpFlag.ACK, 2500, Buffer.alloc(0)), T0 + 202); // pure ACK: no sequence space
  m.packet(ETH, tcp(true, TcpFlag.ACK, 2000, data), T0 + 400); // resend
  // Sequence numbers wrap at 2^32.
  m.packet(ETH, tcp(false, TcpFlag.ACK, 0xffffff00, data), T0);
  m.packet(ETH, tcp(false, TcpFlag.ACK, (0xffffff00 + 500) >>> 0, data), T0 + 1);
  m.flush();
  const c = out.find((f) => f.srcPort === 40000)!;
  const s = out.find((f) => f.srcPort === 443)!;
  assert.equal(c.fwd.retransmissions, 2);
  assert.equal(s.fwd.retransmissions, 0);
});

// ---------------------------------------------------------------------------------------------
// Payload names

function dnsQuery(name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

function clientHello(sni: string): Buffer {
  const name = Buffer.from(sni, 'latin1');
  const sniExt = Buffer.alloc(9 + name.length);
  sniExt.writeUInt16BE(0, 0); // server_name
  sniExt.writeUInt16BE(5 + name.length, 2);
  sniExt.writeUInt16BE(3 + name.length, 4);
  sniExt[6] = 0;
  sniExt.writeUInt16BE(name.length, 7);
  name.copy(sniExt, 9);
  const other = Buffer.from([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // ec_point_formats, before SNI
  const exts = Buffer.concat([other, sniExt]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 7),
    Buffer.from([4, 1, 2, 3, 4]), // session id
    Buffer.from([0, 4, 0x13, 0x01, 0x13, 0x02]), // cipher suites
    Buffer.from([1, 0]), // compression
    Buffer.from([exts.length >> 8, exts.length & 0xff]),
    exts,
  ]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([22, 3, 1, hs.length >> 8, hs.length & 0xff]), hs]);
}

test('payload readers: DNS query name, HTTP Host, TLS SNI', () => {
  const q = dnsQuery('www.Example.COM');
  assert.equal(dnsQueryName(q, 0, q.length), 'www.example.com');
  assert.equal(dnsQueryName(q, 0, q.length - 4), undefined, 'cut before QTYPE');
  const http = Buffer.from('GET /x HTTP/1.1\r\nUser-Agent: t\r\nhOsT:  Example.org:8080 \r\n\r\n');
  assert.equal(httpHost(http, 0, http.length), 'example.org:8080');
  const noHost = Buffer.from('GET /x HTTP/1.1\r\nUser-Agent: t\r\n\r\nHost: after.body\r\n');
  assert.equal(httpHost(noHost, 0, noHost.length), undefined);
  const ch = clientHello('API.example.net');
  assert.equal(tlsServerName(ch, 0, ch.length), 'api.example.net');
  assert.equal(tlsServerName(ch, 0, ch.length - 3), undefined, 'cut inside the name');
  // Random bytes never throw and are (almost always) not names.
  const rng = new Prng(7);
  for (let i = 0; i < 3000; i++) {
    const b = rng.bytes(rng.int(0, 300));
    if (i % 3 === 0 && b.length > 0) b[0] = 22;
    dnsQueryName(b, 0, b.length);
    httpHost(b, 0, b.length);
    tlsServerName(b, 0, b.length);
  }
});

test('the meter attaches DNS, HTTP and SNI names to their flows', () => {
  const { m, out } = meter();
  m.packet(ETH, ethernetIpv4Udp({ src: '192.0.2.1', dst: '198.51.100.53', srcPort: 5353, dstPort: 53, payload: dnsQuery('ns.example') }), T0);
  m.packet(ETH, ethernetIpv4Tcp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 40001, dstPort: 80, flags: TcpFlag.ACK | TcpFlag.PSH, payload: Buffer.from('POST / HTTP/1.1\r\nHost: web.example\r\n\r\n') }), T0);
  m.packet(ETH, ethernetIpv4Tcp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 40002, dstPort: 443, flags: TcpFlag.ACK | TcpFlag.PSH, payload: clientHello('tls.example') }), T0);
  m.flush();
  assert.equal(out.find((f) => f.dstPort === 53)?.dnsName, 'ns.example');
  assert.equal(out.find((f) => f.dstPort === 80)?.httpHost, 'web.example');
  assert.equal(out.find((f) => f.dstPort === 443)?.tlsSni, 'tls.example');
});

test('sampling 1-in-N selects every Nth packet and counts what it observed', () => {
  const { m, out } = meter({ sampling: 3 });
  for (let i = 0; i < 10; i++) m.packet(ETH, udp(0), T0 + i);
  m.flush();
  assert.equal(m.counters.packetsObserved, 10);
  assert.equal(m.counters.packetsSelected, 4); // packets 0, 3, 6, 9
  assert.equal(out[0]!.fwd.packets, 4);
});

test('frames without IP are counted, not metered', () => {
  const { m, out } = meter();
  const arp = Buffer.alloc(60);
  arp.writeUInt16BE(0x0806, 12);
  m.packet(ETH, arp, T0);
  m.flush();
  assert.equal(m.counters.notIp, 1);
  assert.equal(out.length, 0);
});

// ---------------------------------------------------------------------------------------------
// Exporter round trips through the decoder

interface Decoded {
  readonly data: Map<string, FieldValue>[];
  readonly options: Map<string, FieldValue>[];
  readonly batches: FlowBatch[];
  readonly drops: number;
}

function decodeAll(messages: readonly Buffer[]): Decoded {
  const out: Decoded = { data: [], options: [], batches: [], drops: 0 };
  let drops = 0;
  const p = new DecodeStage({
    registry: loadRegistry([]),
    onBatch: (b) => {
      out.batches.push(b);
      for (let i = 0; i < b.count; i++) {
        const vals = decodeRecord(b.template, b.buf, b.starts[i]!, b.starts[i + 1]!)!;
        const m = new Map<string, FieldValue>();
        b.template.fields.forEach((f, k) => m.set(f.ie?.name ?? `${f.pen}/${f.id}`, vals[k]!));
        m.set('@startMs', b.startMs[i]!);
        m.set('@endMs', b.endMs[i]!);
        (b.template.isOptions ? out.options : out.data).push(m);
      }
    },
    onDrop: () => drops++,
  });
  const s = makeSession('udp', '127.0.0.1', 40000, 4739);
  for (const msg of messages) p.handle(msg, s, T0 + 60_000);
  return { ...out, drops };
}

/** Meters a small mixed capture and exports it with the given options. */
function exportTraffic(o: Partial<ExporterOptions>, mo: Partial<MeterOptions> = {}, flows = 6): { messages: Buffer[]; flows: Flow[]; exporter: FlowExporter } {
  const messages: Buffer[] = [];
  const exporter = new FlowExporter({
    version: 10,
    domainId: 7,
    maxMessageBytes: 1472,
    templateRefreshMs: 60_000,
    templateRefreshMessages: 20,
    inlineTemplates: true,
    biflow: false,
    sampling: 1,
    send: (m) => messages.push(m),
    ...o,
  });
  const expired: Flow[] = [];
  const m = new Meter({ ...DEFAULT_METER_OPTIONS, biflow: o.biflow ?? false, ...mo }, (f) => {
    expired.push(f);
    exporter.add(f, m.clockMs);
  });
  exporter.start(T0);
  for (let i = 0; i < flows; i++) {
    m.packet(ETH, ethernetIpv4Tcp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 40000 + i, dstPort: 443, flags: TcpFlag.SYN, ttl: 60, tos: 0x28, vlanIds: [42] }), T0 + 0.4 + i);
    m.packet(ETH, ethernetIpv4Tcp({ src: '198.51.100.1', dst: '192.0.2.1', srcPort: 443, dstPort: 40000 + i, flags: TcpFlag.SYN | TcpFlag.ACK, ttl: 50, vlanIds: [42] }), T0 + 5 + i);
    m.packet(ETH, ethernetIpv4Tcp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 40000 + i, dstPort: 443, flags: TcpFlag.ACK | TcpFlag.PSH, seq: 1, payload: clientHello(`h${i}.example`), ttl: 61, vlanIds: [42] }), T0 + 9 + i);
  }
  m.packet(ETH, ethernetIpv6Udp({ src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5000, dstPort: 53, payload: dnsQuery('v6.example') }), T0 + 100);
  m.packet(ETH, ethernetIpv4Icmp({ src: '192.0.2.9', dst: '198.51.100.9', type: 8, code: 0 }), T0 + 200);
  m.flush();
  exporter.setMeteringStats({ packetsObserved: m.counters.packetsObserved, packetsSelected: m.counters.packetsSelected, packetsIgnored: 0 });
  exporter.finish(T0 + 1000);
  return { messages, flows: expired, exporter };
}

const num = (v: FieldValue | undefined) => (typeof v === 'bigint' ? Number(v) : (v as number));

test('IPFIX round trip: every flow field decodes back, names included', () => {
  const { messages, flows } = exportTraffic({});
  const d = decodeAll(messages);
  assert.equal(d.drops, 0);
  assert.equal(d.data.length, flows.length);
  const byPort = new Map(d.data.map((r) => [`${r.get('sourceIPv4Address') ?? r.get('sourceIPv6Address')}|${r.get('sourceTransportPort')}`, r]));
  const c = byPort.get('192.0.2.1|40002')!;
  assert.equal(c.get('destinationIPv4Address'), '198.51.100.1');
  assert.equal(c.get('protocolIdentifier'), 6);
  assert.equal(num(c.get('packetDeltaCount')), 2);
  assert.equal(num(c.get('tcpControlBits')), TcpFlag.SYN | TcpFlag.ACK | TcpFlag.PSH);
  assert.equal(c.get('minimumTTL'), 60);
  assert.equal(c.get('maximumTTL'), 61);
  assert.equal(c.get('ipClassOfService'), 0x28);
  assert.equal(c.get('vlanId'), 42);
  assert.equal(c.get('sourceMacAddress'), '02:00:00:00:00:01');
  assert.equal(c.get('destinationMacAddress'), '02:00:00:00:00:02');
  assert.equal(num(c.get('flowStartMilliseconds')), T0 + 2);
  assert.equal(num(c.get('flowEndMilliseconds')), T0 + 11);
  assert.equal(c.get('@startMs'), T0 + 2);
  assert.equal(c.get('flowEndReason'), FlowEndReason.FORCED_END);
  assert.equal(c.get('tcpHandshakeRttMicroseconds'), 8600);
  assert.equal(c.get('tlsServerName'), 'h2.example');
  assert.equal(c.get('httpRequestHost'), '');
  const v6 = byPort.get('2001:db8::1|5000')!;
  assert.equal(v6.get('dnsQueryName'), 'v6.example');
  const icmp = d.data.find((r) => r.get('protocolIdentifier') === 1)!;
  assert.equal(icmp.get('icmpTypeCodeIPv4'), 0x0800);
  const opt = d.options.at(-1)!;
  assert.equal(num(opt.get('exportedFlowRecordTotalCount')), flows.length);
  assert.equal(num(opt.get('selectorIdTotalPktsObserved')), 6 * 3 + 2);
  assert.equal(opt.get('observationDomainId'), 7);
  for (const b of d.batches) assert.equal(b.ctx.domainId, 7);
});

test('NetFlow v9 round trip: fields and uptime-relative times decode to the same values', () => {
  const { messages, flows } = exportTraffic({ version: 9 });
  const d = decodeAll(messages);
  assert.equal(d.drops, 0);
  assert.equal(d.data.length, flows.length);
  const totalPackets = d.data.reduce((a, r) => a + num(r.get('packetDeltaCount')), 0);
  assert.equal(totalPackets, flows.reduce((a, f) => a + f.fwd.packets, 0));
  const c = d.data.find((r) => r.get('sourceTransportPort') === 40003)!;
  assert.equal(num(c.get('tcpControlBits')), TcpFlag.SYN | TcpFlag.ACK | TcpFlag.PSH);
  // systemInitTimeMilliseconds in the options record gives ms-exact absolute times.
  assert.equal(c.get('@startMs'), T0 + 3);
  assert.equal(c.get('@endMs'), T0 + 12);
  assert.equal(d.options[0]!.get('samplingInterval'), 1);
});

test('NetFlow v5 round trip: IPv4 flows only, the IPv6 flow is counted as not sent', () => {
  const { messages, flows, exporter } = exportTraffic({ version: 5, sampling: 4 });
  const d = decodeAll(messages);
  assert.equal(d.drops, 0);
  assert.equal(d.data.length, flows.filter((f) => f.ipVersion === 4).length);
  assert.equal(exporter.counters.notSent, 1);
  const icmp = d.data.find((r) => r.get('protocolIdentifier') === 1)!;
  assert.equal(icmp.get('destinationTransportPort'), 0x0800);
  const c = d.data.find((r) => r.get('sourceTransportPort') === 40001)!;
  assert.equal(c.get('@startMs'), T0 + 1);
  assert.equal(d.batches[0]!.ctx.header?.samplingInterval, 4);
  assert.equal(d.batches[0]!.ctx.header?.samplingAlgorithm, 1);
});

test('IPFIX biflow round trip: reverse elements carry the answering direction', () => {
  const { messages, flows } = exportTraffic({ biflow: true }, { biflow: true });
  const d = decodeAll(messages);
  assert.equal(d.drops, 0);
  assert.equal(d.data.length, flows.length);
  const c = d.data.find((r) => r.get('sourceTransportPort') === 40000)!;
  assert.equal(num(c.get('packetDeltaCount')), 2);
  assert.equal(num(c.get('packetDeltaCount@reverse')), 1);
  assert.equal(num(c.get('tcpControlBits@reverse')), TcpFlag.SYN | TcpFlag.ACK);
  assert.equal(c.get('minimumTTL@reverse'), 50);
  assert.equal(num(c.get('flowStartMilliseconds@reverse')), T0 + 5);
});

test('messages respect the size limit; templates are refreshed by message count and by time', () => {
  for (const version of [10, 9, 5] as const) {
    const { messages, flows } = exportTraffic({ version, maxMessageBytes: 400, templateRefreshMessages: 3 }, {}, 60);
    for (const m of messages) assert.ok(m.length <= 400, `v${version} message of ${m.length} bytes`);
    const d = decodeAll(messages);
    assert.equal(d.drops, 0, `v${version}`);
    assert.equal(d.data.length, version === 5 ? flows.length - 1 : flows.length);
    if (version !== 5) {
      // A template set id is 2 (IPFIX) or 0 (v9) right after the header.
      const withTemplates = messages.filter((m) => m.readUInt16BE(version === 10 ? 16 : 20) === (version === 10 ? 2 : 0)).length;
      const dataMessages = messages.length - withTemplates;
      assert.ok(withTemplates >= Math.floor(dataMessages / 3), `v${version}: ${withTemplates} template messages for ${dataMessages} data messages`);
    }
  }
  const { messages } = exportTraffic({ templateRefreshMs: 0, templateRefreshMessages: 0 }, {}, 60);
  assert.equal(messages.filter((m) => m.readUInt16BE(16) === 2).length, 1, 'no refresh: templates once');
});

test('IPFIX sequence numbers count the data records sent before each message', () => {
  const { messages } = exportTraffic({ maxMessageBytes: 300 }, {}, 30);
  let records = 0;
  const p = new DecodeStage({ registry: loadRegistry([]), onBatch: (b) => (records += b.count) });
  const s = makeSession('udp', '127.0.0.1', 40000, 4739);
  for (const m of messages) {
    assert.equal(m.readUInt32BE(8), records);
    p.handle(m, s, T0);
  }
  assert.ok(records > 30);
  assert.equal(p.counters.drops.byReason.size, 0);
});

test('the options record declares 1-in-N sampling so that sluice learns N (IPFIX and v9)', () => {
  for (const version of [10, 9] as const) {
    const { messages } = exportTraffic({ version, sampling: 5 }, { sampling: 5 });
    const d = decodeAll(messages);
    const last = d.batches.at(-1)!;
    assert.equal(last.ctx.domain?.samplingInterval, 5, `v${version}`);
    if (version === 10) {
      const opt = d.options.at(-1)!;
      assert.equal(opt.get('samplingPacketInterval'), 1);
      assert.equal(opt.get('samplingPacketSpace'), 4);
      assert.equal(opt.get('selectorAlgorithm'), 1);
    }
  }
});

test('DataMessageWriter: sets per template run, v9 set padding, the size limit, exact header fields', async () => {
  const { DataMessageWriter } = await import('../src/wire/encode/data-writer.js');
  const w3 = (b: Buffer, o: number, limit: number, v: number) => (o + 3 > limit ? -1 : (b.writeUIntBE(v, o, 3), o + 3));
  for (const version of [10, 9] as const) {
    const w = new DataMessageWriter(version, 60);
    assert.ok(w.add(300, w3, 1));
    assert.ok(w.add(300, w3, 2));
    assert.ok(w.add(301, w3, 3));
    let added = 3;
    while (w.add(301, w3, 4)) added++;
    const msg = w.finish({ exportTimeSec: 1000, sequence: 7, domainId: 9, sysUpTimeMs: 5 })!;
    assert.ok(msg.length <= 60);
    const hl = version === 10 ? 16 : 20;
    if (version === 10) {
      assert.equal(msg.readUInt16BE(2), msg.length);
      assert.equal(msg.readUInt32BE(12), 9);
    } else {
      assert.equal(msg.readUInt16BE(2), added, 'v9 header counts records');
      assert.equal(msg.readUInt32BE(4), 5);
    }
    // First set: id 300, two 3-byte records (+ 2 bytes of padding in v9).
    assert.equal(msg.readUInt16BE(hl), 300);
    assert.equal(msg.readUInt16BE(hl + 2), version === 9 ? 12 : 10);
    const second = hl + msg.readUInt16BE(hl + 2);
    assert.equal(msg.readUInt16BE(second), 301);
    assert.equal(second + msg.readUInt16BE(second + 2), msg.length);
    if (version === 9) assert.equal(msg.length % 4, 0);
    assert.equal(w.finish({ exportTimeSec: 0, sequence: 0, domainId: 0 }), undefined, 'empty after finish');
    assert.throws(() => new DataMessageWriter(version, 60).add(1, () => -1, 0), /does not fit/);
  }
});

test('the meter survives mutated and random frames (no throw, every frame counted)', () => {
  const rng = new Prng(0x9e7);
  const seeds = [
    tcp(true, TcpFlag.SYN),
    udp(1, dnsQuery('a.example')),
    ethernetIpv6Udp({ src: '2001:db8::1', dst: '2001:db8::2', srcPort: 1, dstPort: 53, payload: dnsQuery('b.example') }),
    ethernetIpv4Tcp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 5, dstPort: 443, flags: TcpFlag.ACK, payload: clientHello('c.example') }),
    ethernetIpv4Icmp({ src: '192.0.2.9', dst: '198.51.100.9', type: 3, code: 1, payload: Buffer.alloc(28) }),
  ];
  for (const biflow of [false, true]) {
    const { m, out } = meter({ biflow, maxFlows: 512 });
    let n = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = Buffer.from(rng.pick(seeds));
      const f = rng.chance(0.1) ? rng.bytes(rng.int(0, 120)) : base.subarray(0, rng.int(0, base.length));
      for (let k = rng.int(0, 6); k > 0; k--) if (f.length > 0) f[rng.int(0, f.length - 1)] = rng.int(0, 255);
      m.packet(rng.pick([ETH, ETH, LinkType.RAW, LinkType.LINUX_SLL]), f, T0 + i);
      n++;
    }
    m.flush();
    const c = m.counters;
    assert.equal(c.packetsObserved, n);
    assert.equal(c.packetsMetered + c.notIp, n);
    assert.equal(out.reduce((a, f) => a + f.fwd.packets + f.rev.packets, 0), c.packetsMetered, 'every metered packet is in an exported flow');
  }
});

test('IP fragments: later fragments are metered into the first fragment\'s flow (ports from the first)', async () => {
  const { fragmentIpv4 } = await import('../src/wire/packet/build.js');
  const big = ethernetIpv4Udp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 4000, dstPort: 9000, payload: Buffer.alloc(3000, 1) });
  const frags = fragmentIpv4(big, 1500);
  assert.ok(frags.length >= 3);
  const { m, out } = meter();
  frags.forEach((f, i) => m.packet(ETH, f, T0 + i));
  // A later fragment whose first fragment was never seen (another IPv4 id): ports 0, counted.
  const other = fragmentIpv4(ethernetIpv4Udp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 4000, dstPort: 9000, id: 77, payload: Buffer.alloc(3000, 2) }), 1500);
  m.packet(ETH, other[1]!, T0 + 10);
  m.flush();
  const f = out.find((x) => x.dstPort === 9000)!;
  assert.equal(f.srcPort, 4000);
  assert.equal(f.fwd.packets, frags.length);
  assert.equal(f.fwd.octets, frags.reduce((a, x) => a + x.readUInt16BE(16), 0), 'each fragment counts its own IP length');
  const orphan = out.find((x) => x.protocol === 17 && x.dstPort === 0)!;
  assert.equal(orphan.fwd.packets, 1);
  assert.equal(m.counters.fragmentsWithoutPorts, 1);
});

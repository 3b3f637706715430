import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, type JsonRecord } from './helpers/harness.js';
import { ethernet, ethernetIpv4Icmp, ethernetIpv4Tcp, ethernetIpv4Udp, ethernetIpv6Icmp, ethernetIpv6Tcp, ipv4Packet } from '../src/wire/packet/build.js';
import { encodeSflowDatagram, type CounterRecord, type FlowRecord, type SflowDatagram, type SflowSample } from '../src/wire/sflow/encode.js';
import { SLUICE_PEN, SLUICE_ELEMENTS } from '../src/wire/ie/sluice-elements.js';
import { SflowDecoder } from '../src/wire/sflow/decode.js';
import { IeRegistry } from '../src/wire/ie/registry.js';
import { makeSession, type FlowBatch } from '../src/wire/batch.js';
import type { DropEvent } from '../src/wire/stats.js';
import { DropCounters } from '../src/wire/stats.js';
import { runSluice } from './helpers/cli.js';

const NOW = 1_700_000_000_123;

/** `agent` null = the sFlow UNKNOWN address type. */
function datagram(samples: SflowSample[], agent: string | null = '192.0.2.10', extra: Partial<SflowDatagram> = {}): Buffer {
  return encodeSflowDatagram({ agent: agent ?? undefined, subAgentId: 7, sequence: 42, uptimeMs: 123_456, samples, ...extra });
}

function flow(records: FlowRecord[], extra: Partial<Extract<SflowSample, { kind: 'flow' }>> = {}): SflowSample {
  return { kind: 'flow', sequence: 1000, sourceIndex: 3, samplingRate: 512, samplePool: 99_000, drops: 5, input: 3, output: 4, records, ...extra };
}

function decode(buf: Buffer): Harness {
  return new Harness({ timestamp: 'unix' }).feed(buf, NOW);
}

function one(buf: Buffer): JsonRecord {
  const h = decode(buf);
  assert.deepEqual(h.drops.map((d) => d.detail), []);
  assert.equal(h.records.length, 1);
  return h.records[0]!;
}

const tcpFrame = ethernetIpv4Tcp({
  src: '10.1.2.3',
  dst: '10.4.5.6',
  srcMac: '02:00:00:00:00:aa',
  dstMac: '02:00:00:00:00:bb',
  vlanIds: [100, 200],
  ttl: 61,
  tos: 0x28,
  id: 4321,
  dontFragment: true,
  srcPort: 40000,
  dstPort: 443,
  flags: 0x18,
  payload: Buffer.alloc(100),
});

test('sFlow header: IPv4 agent, sub-agent, sequence and uptime reach the message context', () => {
  const h = decode(datagram([flow([{ type: 'header', protocol: 1, frameLength: 200, header: tcpFrame.subarray(0, 128) }])]));
  assert.deepEqual(h.drops, []);
  const b = h.batches[0]!;
  assert.equal(b.ctx.protocol, 'sflow5');
  assert.equal(b.ctx.domainId, 7);
  assert.equal(b.ctx.sequence, 42);
  assert.equal(b.ctx.sysUpTimeMs, 123_456);
  assert.equal(b.ctx.exportTimeMs, NOW, 'sFlow has no wall clock: export time is the receive time');
  assert.equal(b.ctx.receivedMs, NOW);
  assert.equal(b.template.origin, 'sflow5');
  const r = h.records[0]!;
  assert.equal(r['@type'], 'ipfix.entry');
  assert.equal(r['iana:exporterIPv4Address'], '192.0.2.10');
  assert.equal(r['iana:flowStartMilliseconds'], Math.floor(NOW));
  assert.equal(r['iana:flowEndMilliseconds'], Math.floor(NOW));
  assert.equal(b.startMs[0], Math.floor(NOW), 'the time module sees the sample time');
});

test('sFlow header: IPv6 and unknown agent addresses', () => {
  const r6 = one(datagram([flow([])], '2001:db8::5'));
  assert.equal(r6['iana:exporterIPv6Address'], '2001:db8::5');
  assert.equal(r6['iana:exporterIPv4Address'], undefined);
  const r0 = one(datagram([flow([])], null));
  assert.equal(r0['iana:exporterIPv4Address'], undefined);
  assert.equal(r0['iana:exporterIPv6Address'], undefined);
  assert.equal(r0['sluice:sflowSampleSequenceNumber'], 1000);
});

test('flow sample: sampling facts, scaled counters, interfaces and direction', () => {
  const r = one(datagram([flow([{ type: 'header', protocol: 1, frameLength: 200, stripped: 4, header: tcpFrame.subarray(0, 128) }])]));
  assert.equal(r['sluice:sflowDataSourceType'], 0);
  assert.equal(r['sluice:sflowDataSourceIndex'], 3);
  assert.equal(r['sluice:sflowSampleSequenceNumber'], 1000);
  assert.equal(r['iana:samplingInterval'], 512);
  assert.equal(r['iana:selectorIdTotalPktsObserved'], 99_000);
  assert.equal(r['iana:ignoredPacketTotalCount'], 5);
  assert.equal(r['iana:packetDeltaCount'], 1);
  assert.equal(r['sluice:scaledPacketDeltaCount'], 512);
  assert.equal(r['iana:layer2OctetDeltaCount'], 200);
  assert.equal(r['sluice:scaledLayer2OctetDeltaCount'], 200 * 512);
  const ipLen = tcpFrame.length - 22; // Ethernet header and two tags
  assert.equal(r['iana:octetDeltaCount'], ipLen);
  assert.equal(r['sluice:scaledOctetDeltaCount'], ipLen * 512);
  assert.equal(r['iana:ingressInterface'], 3);
  assert.equal(r['iana:egressInterface'], 4);
  assert.equal(r['iana:flowDirection'], 0, 'source 3 = input 3: ingress sampling');
});

test('raw packet header, Ethernet with QinQ: MACs, tags with priority, IPv4 header fields, TCP', () => {
  const hdr = Buffer.from(tcpFrame.subarray(0, 128));
  hdr[14] |= 5 << 5; // outer tag priority 5
  hdr[18] |= 3 << 5; // inner tag priority 3
  const r = one(datagram([flow([{ type: 'header', protocol: 1, frameLength: 200, header: hdr }])]));
  assert.equal(r['sluice:sflowHeaderProtocol'], 1);
  assert.equal(r['iana:sourceMacAddress'], '02:00:00:00:00:AA');
  assert.equal(r['iana:destinationMacAddress'], '02:00:00:00:00:BB');
  assert.equal(r['iana:ethernetType'], 0x0800);
  assert.equal(r['iana:dot1qVlanId'], 100);
  assert.equal(r['iana:dot1qPriority'], 5);
  assert.equal(r['iana:dot1qCustomerVlanId'], 200);
  assert.equal(r['iana:dot1qCustomerPriority'], 3);
  assert.equal(r['iana:sourceIPv4Address'], '10.1.2.3');
  assert.equal(r['iana:destinationIPv4Address'], '10.4.5.6');
  assert.equal(r['iana:protocolIdentifier'], 'TCP');
  assert.equal(r['iana:ipClassOfService'], 0x28);
  assert.equal(r['iana:ipTTL'], 61);
  assert.equal(r['iana:ipHeaderLength'], 20);
  assert.equal(r['iana:totalLengthIPv4'], tcpFrame.length - 22);
  assert.equal(r['iana:fragmentIdentification'], 4321);
  assert.equal(r['iana:fragmentFlags'], 0x40, 'DF');
  assert.equal(r['iana:fragmentOffset'], 0);
  assert.equal(r['iana:sourceTransportPort'], 40000);
  assert.equal(r['iana:destinationTransportPort'], 443);
  assert.equal(r['iana:tcpControlBits'], '.AP...');
});

test('raw packet header: TCP flags formatted, UDP length, ICMP type/code', () => {
  const h = new Harness();
  const udp = ethernetIpv4Udp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 53, dstPort: 5353, payload: Buffer.alloc(30) });
  const icmp = ethernetIpv4Icmp({ src: '10.0.0.1', dst: '10.0.0.2', type: 3, code: 13 });
  const icmp6 = ethernetIpv6Icmp({ src: 'fe80::1', dst: 'ff02::1', type: 135, code: 0 });
  const syn = ethernetIpv4Tcp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, flags: 0x12 });
  h.feed(
    datagram([
      flow([{ type: 'header', protocol: 1, frameLength: udp.length + 4, header: udp }]),
      flow([{ type: 'header', protocol: 1, frameLength: icmp.length + 4, header: icmp }]),
      flow([{ type: 'header', protocol: 1, frameLength: icmp6.length + 4, header: icmp6 }]),
      flow([{ type: 'header', protocol: 1, frameLength: syn.length + 4, header: syn }]),
    ]),
    NOW,
  );
  assert.deepEqual(h.drops, []);
  const byProto = (p: string) => h.records.filter((r) => r['iana:protocolIdentifier'] === p);
  const ru = byProto('UDP')[0]!;
  assert.equal(ru['iana:udpMessageLength'], 38);
  assert.equal(ru['iana:sourceTransportPort'], 53);
  const ri = byProto('ICMP')[0]!;
  assert.equal(ri['iana:icmpTypeCodeIPv4'], (3 << 8) | 13);
  assert.equal(ri['iana:sourceTransportPort'], undefined);
  const r6 = byProto('IPv6-ICMP')[0]!;
  assert.equal(r6['iana:icmpTypeCodeIPv6'], 135 << 8);
  assert.equal(r6['iana:sourceIPv6Address'], 'fe80::1');
  const rt = byProto('TCP')[0]!;
  assert.equal(rt['iana:tcpControlBits'], '.A..S.');
});

/** An Ethernet/IPv6 frame whose TCP segment sits behind a hop-by-hop and a destination options header. */
function ipv6WithExtensions(): Buffer {
  const f = ethernetIpv6Tcp({ src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5000, dstPort: 22, flags: 0x02, trafficClass: 0xb8, flowLabel: 0x12345, hopLimit: 9 });
  const ip = 14;
  const ext = Buffer.alloc(16);
  ext[0] = 60; // hop-by-hop -> destination options
  ext[1] = 0;
  ext[8] = 6; // destination options -> TCP
  ext[9] = 0;
  const out = Buffer.concat([f.subarray(0, ip + 40), ext, f.subarray(ip + 40)]);
  out[ip + 6] = 0; // next header: hop-by-hop
  out.writeUInt16BE(out.readUInt16BE(ip + 4) + 16, ip + 4);
  return out;
}

test('raw packet header, IPv6 with extension headers: the upper-layer protocol, traffic class, flow label', () => {
  const f = ipv6WithExtensions();
  const r = one(datagram([flow([{ type: 'header', protocol: 1, frameLength: f.length + 4, header: f }])]));
  assert.equal(r['iana:sourceIPv6Address'], '2001:db8::1');
  assert.equal(r['iana:destinationIPv6Address'], '2001:db8::2');
  assert.equal(r['iana:protocolIdentifier'], 'TCP');
  assert.equal(r['iana:ipClassOfService'], 0xb8);
  assert.equal(r['iana:flowLabelIPv6'], 0x12345);
  assert.equal(r['iana:ipTTL'], 9);
  assert.equal(r['iana:payloadLengthIPv6'], 16 + 20);
  assert.equal(r['iana:octetDeltaCount'], 40 + 16 + 20);
  assert.equal(r['iana:destinationTransportPort'], 22);
  assert.equal(r['iana:tcpControlBits'], '....S.');
});

test('raw packet header: header protocols IPv4 (11), IPv6 (12), MPLS (13), MPLS over Ethernet, and one not dissected', () => {
  const v4 = tcpFrame.subarray(22);
  const v6 = ipv6WithExtensions().subarray(14);
  const lse = (label: number, exp: number, bottom: boolean, ttl: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(((label << 12) | (exp << 9) | (bottom ? 0x100 : 0) | ttl) >>> 0);
    return b;
  };
  const mplsIp = Buffer.concat([lse(16000, 5, false, 64), lse(17, 0, true, 64), v4]);
  const ethMpls = ethernet({ vlanIds: [30] }, 0x8847, mplsIp);
  const h = decode(
    datagram([
      flow([{ type: 'header', protocol: 11, frameLength: v4.length, header: v4 }], { sequence: 1 }),
      flow([{ type: 'header', protocol: 12, frameLength: v6.length, header: v6 }], { sequence: 2 }),
      flow([{ type: 'header', protocol: 13, frameLength: mplsIp.length, header: mplsIp }], { sequence: 3 }),
      flow([{ type: 'header', protocol: 1, frameLength: ethMpls.length + 4, header: ethMpls }], { sequence: 4 }),
      flow([{ type: 'header', protocol: 3, frameLength: 99, header: Buffer.alloc(40, 0x55) }], { sequence: 5 }),
    ]),
  );
  assert.deepEqual(h.drops, []);
  const bySeq = (n: number) => h.records.find((r) => r['sluice:sflowSampleSequenceNumber'] === n)!;
  assert.equal(bySeq(1)['iana:sourceIPv4Address'], '10.1.2.3');
  assert.equal(bySeq(1)['iana:sourceMacAddress'], undefined);
  assert.equal(bySeq(1)['sluice:sflowHeaderProtocol'], 11);
  assert.equal(bySeq(2)['iana:sourceIPv6Address'], '2001:db8::1');
  assert.equal(bySeq(2)['iana:protocolIdentifier'], 'TCP');
  const top = (16000 << 4) | (5 << 1); // label, EXP, no bottom-of-stack bit
  assert.equal(bySeq(3)['iana:mplsTopLabelStackSection'], top);
  assert.equal(bySeq(3)['iana:mplsLabelStackSection2'], (17 << 4) | 1);
  assert.equal(bySeq(3)['iana:destinationIPv4Address'], '10.4.5.6');
  assert.equal(bySeq(4)['iana:mplsTopLabelStackSection'], top);
  assert.equal(bySeq(4)['iana:mplsLabelStackSection2'], (17 << 4) | 1);
  assert.equal(bySeq(4)['iana:ethernetType'], 0x8847);
  assert.equal(bySeq(4)['iana:dot1qVlanId'], 30);
  assert.equal(bySeq(4)['iana:destinationTransportPort'], 443);
  const tr = bySeq(5);
  assert.equal(tr['sluice:sflowHeaderProtocol'], 3);
  assert.equal(tr['iana:layer2OctetDeltaCount'], 99);
  assert.equal(tr['iana:octetDeltaCount'], undefined, 'a token ring frame is not dissected');
});

test('Ethernet frame data, IPv4 data and IPv6 data records', () => {
  const h = decode(
    datagram([
      flow(
        [
          { type: 'ethernet', length: 1518, srcMac: '00:11:22:33:44:55', dstMac: '66:77:88:99:aa:bb', etherType: 0x0800 },
          { type: 'ipv4', length: 1500, protocol: 6, src: '198.51.100.1', dst: '203.0.113.9', srcPort: 1234, dstPort: 80, tcpFlags: 0x11, tos: 0x10 },
        ],
        { sequence: 1 },
      ),
      flow([{ type: 'ipv6', length: 1280, protocol: 17, src: '2001:db8::a', dst: '2001:db8::b', srcPort: 53, dstPort: 33333, tcpFlags: 0xff, tos: 0x20 }], { sequence: 2 }),
      flow([{ type: 'ipv4', length: 84, protocol: 1, src: '198.51.100.1', dst: '203.0.113.9', srcPort: 8, dstPort: 0, tcpFlags: 0, tos: 0 }], { sequence: 3 }),
    ]),
  );
  assert.deepEqual(h.drops, []);
  const bySeq = (n: number) => h.records.find((r) => r['sluice:sflowSampleSequenceNumber'] === n)!;
  const a = bySeq(1);
  assert.equal(a['iana:layer2OctetDeltaCount'], 1518);
  assert.equal(a['iana:sourceMacAddress'], '00:11:22:33:44:55');
  assert.equal(a['iana:destinationMacAddress'], '66:77:88:99:AA:BB');
  assert.equal(a['iana:ethernetType'], 2048);
  assert.equal(a['iana:octetDeltaCount'], 1500);
  assert.equal(a['sluice:scaledOctetDeltaCount'], 1500 * 512);
  assert.equal(a['iana:sourceIPv4Address'], '198.51.100.1');
  assert.equal(a['iana:protocolIdentifier'], 'TCP');
  assert.equal(a['iana:ipClassOfService'], 0x10);
  assert.equal(a['iana:sourceTransportPort'], 1234);
  assert.equal(a['iana:tcpControlBits'], '.A...F');
  const b = bySeq(2);
  assert.equal(b['iana:sourceIPv6Address'], '2001:db8::a');
  assert.equal(b['iana:octetDeltaCount'], 1280);
  assert.equal(b['iana:ipClassOfService'], 0x20);
  assert.equal(b['iana:destinationTransportPort'], 33333);
  assert.equal(b['iana:tcpControlBits'], undefined, 'TCP flags only for TCP');
  const c = bySeq(3);
  assert.equal(c['iana:protocolIdentifier'], 'ICMP');
  assert.equal(c['iana:sourceTransportPort'], undefined, 'ICMP has no ports');
});

test('extended switch, router, gateway, user, URL, MPLS, NAT and egress queue records', () => {
  const r = one(
    datagram([
      flow([
        { type: 'ipv6', length: 100, protocol: 6, src: '2001:db8::a', dst: '2001:db8::b', srcPort: 1, dstPort: 2, tcpFlags: 2, tos: 0 },
        { type: 'switch', srcVlan: 10, srcPriority: 2, dstVlan: 20, dstPriority: 0xffffffff },
        { type: 'router', nextHop: '2001:db8::fe', srcMask: 48, dstMask: 64 },
        {
          type: 'gateway',
          nextHop: '192.0.2.254',
          as: 65000,
          srcAs: 64501,
          srcPeerAs: 64502,
          asPath: [
            { type: 2, asns: [64600, 64601] },
            { type: 1, asns: [64700, 64701] },
          ],
          communities: [0xfde80001, 0xfde80002],
          localPref: 150,
        },
        { type: 'user', srcCharset: 106, srcUser: 'alice', dstCharset: 106, dstUser: 'bøb' },
        { type: 'url', direction: 2, url: '/index.html?q=1', host: 'example.org' },
        { type: 'mpls', nextHop: '198.51.100.7', inStack: [(100 << 12) | 0x1ff, (200 << 12) | 0x100], outStack: [(300 << 12) | 0x100] },
        { type: 'nat', src: '203.0.113.1', dst: '2001:db8::99' },
        { type: 'queue', queue: 7 },
      ]),
    ]),
  );
  assert.equal(r['iana:vlanId'], 10);
  assert.equal(r['iana:postVlanId'], 20);
  assert.equal(r['iana:dot1qPriority'], 2);
  assert.equal(r['sluice:postDot1qPriority'], undefined, '0xffffffff is "unknown", not a priority');
  assert.equal(r['iana:ipNextHopIPv6Address'], '2001:db8::fe');
  assert.equal(r['iana:sourceIPv6PrefixLength'], 48, 'an IPv6 packet gets the IPv6 prefix length elements');
  assert.equal(r['iana:destinationIPv6PrefixLength'], 64);
  assert.equal(r['iana:sourceIPv4PrefixLength'], undefined);
  assert.equal(r['iana:bgpNextHopIPv4Address'], '192.0.2.254');
  assert.equal(r['sluice:bgpRouterAsNumber'], 65000);
  assert.equal(r['iana:bgpSourceAsNumber'], 64501);
  assert.equal(r['iana:bgpPrevAdjacentAsNumber'], 64502);
  assert.equal(r['iana:bgpNextAdjacentAsNumber'], 64600);
  assert.equal(r['iana:bgpDestinationAsNumber'], 64701);
  assert.equal(r['sluice:bgpLocalPref'], 150);
  assert.deepEqual(r['iana:bgpDestinationAsPathList'], {
    '@type': 'basicList',
    semantic: 'ordered',
    fieldID: 'iana:bgpDestinationAsNumber',
    data: [64600, 64601, 64700, 64701],
  });
  assert.deepEqual(r['iana:bgpDestinationCommunityList'], { '@type': 'basicList', semantic: 'allOf', fieldID: 'iana:bgpCommunity', data: [0xfde80001, 0xfde80002] });
  assert.equal(r['sluice:sourceUserName'], 'alice');
  assert.equal(r['sluice:destinationUserName'], 'bøb');
  assert.equal(r['sluice:sflowUrlDirection'], 2);
  assert.equal(r['iana:httpRequestTarget'], '/index.html?q=1');
  assert.equal(r['iana:httpRequestHost'], 'example.org');
  assert.equal(r['iana:mplsTopLabelIPv4Address'], '198.51.100.7');
  assert.equal(r['iana:mplsTopLabelStackSection'], (100 << 4) | 1 | 0, 'label 100, EXP 0, bottom bit of the entry kept');
  assert.equal(r['iana:mplsLabelStackSection2'], (200 << 4) | 1);
  assert.equal(r['sluice:postMplsTopLabelStackSection'], (300 << 4) | 1);
  assert.equal(r['iana:postNATSourceIPv4Address'], '203.0.113.1');
  assert.equal(r['iana:postNATDestinationIPv6Address'], '2001:db8::99');
  assert.equal(r['sluice:egressQueue'], 7);
});

test('extended gateway with an empty AS path: the destination is in the router AS; IPv4 router masks', () => {
  const r = one(
    datagram([
      flow([
        { type: 'router', nextHop: '10.0.0.254', srcMask: 24, dstMask: 16 },
        { type: 'gateway', nextHop: '2001:db8::1', as: 65010, srcAs: 0, srcPeerAs: 0, asPath: [], communities: [], localPref: 100 },
      ]),
    ]),
  );
  assert.equal(r['iana:ipNextHopIPv4Address'], '10.0.0.254');
  assert.equal(r['iana:sourceIPv4PrefixLength'], 24);
  assert.equal(r['iana:destinationIPv4PrefixLength'], 16);
  assert.equal(r['iana:bgpNextHopIPv6Address'], '2001:db8::1');
  assert.equal(r['iana:bgpDestinationAsNumber'], 65010);
  assert.equal(r['iana:bgpNextAdjacentAsNumber'], undefined);
  assert.equal(r['iana:bgpDestinationAsPathList'], undefined);
  assert.equal(r['iana:bgpDestinationCommunityList'], undefined);
});

test('expanded flow sample: 32-bit source id and separate interface formats (discarded, multiple)', () => {
  const h = decode(
    datagram([
      flow([], { expanded: true, sourceType: 0, sourceIndex: 0x1234567, input: { format: 0, value: 0x1234567 }, output: { format: 1, value: 258 }, sequence: 1 }),
      flow([], { expanded: true, sourceType: 0, sourceIndex: 9, input: { format: 0, value: 8 }, output: { format: 2, value: 4 }, sequence: 2 }),
    ]),
  );
  assert.deepEqual(h.drops, []);
  const [a, b] = [1, 2].map((n) => h.records.find((r) => r['sluice:sflowSampleSequenceNumber'] === n)!);
  assert.equal(a!['sluice:sflowDataSourceIndex'], 0x1234567);
  assert.equal(a!['iana:ingressInterface'], 0x1234567);
  assert.equal(a!['iana:egressInterface'], undefined);
  assert.equal(a!['iana:forwardingStatus'], 129, 'sFlow reason 258 (ACL) -> Dropped: ACL deny');
  assert.equal(a!['sluice:sflowDropReason'], 258);
  assert.equal(a!['iana:flowDirection'], 0);
  assert.equal(a!['iana:packetDeltaCount'], 1, 'a sampled packet that was then discarded still counts as seen');
  assert.equal(b!['sluice:egressInterfaceCount'], 4);
  assert.equal(b!['iana:egressInterface'], undefined);
  assert.equal(b!['iana:flowDirection'], 1, 'sampled at one of several outputs: egress');
});

test('compact flow sample: format bits of input/output (discarded with ICMP code, multiple, internal)', () => {
  const h = decode(
    datagram([
      flow([], { sourceIndex: 5, input: 5, output: { format: 1, value: 1 }, sequence: 1 }),
      flow([], { sourceIndex: 6, input: 2, output: { format: 2, value: 0 }, sequence: 2 }),
      flow([], { sourceIndex: 7, input: 2, output: 7, sequence: 3 }),
      flow([], { sourceIndex: 8, input: 2, output: 0x3fffffff, sequence: 4 }),
    ]),
  );
  const bySeq = (n: number) => h.records.find((r) => r['sluice:sflowSampleSequenceNumber'] === n)!;
  assert.equal(bySeq(1)['iana:forwardingStatus'], 131, 'host unreachable -> Dropped: unroutable');
  assert.equal(bySeq(1)['sluice:sflowDropReason'], 1);
  assert.equal(bySeq(2)['sluice:egressInterfaceCount'], 0, '0 = unknown number of interfaces');
  assert.equal(bySeq(2)['iana:flowDirection'], 1);
  assert.equal(bySeq(3)['iana:egressInterface'], 7);
  assert.equal(bySeq(3)['iana:flowDirection'], 1);
  assert.equal(bySeq(4)['iana:egressInterface'], 0x3fffffff, 'the internal interface value is kept as sent');
  assert.equal(bySeq(4)['iana:flowDirection'], undefined, 'sampled neither at the input nor at the output');
});

test('discarded packet sample (format 5): dropped counters, forwarding status, reason, direction', () => {
  const frame = ethernetIpv4Udp({ src: '10.9.9.9', dst: '10.8.8.8', srcPort: 1, dstPort: 2, payload: Buffer.alloc(10) });
  const r = one(
    datagram([
      {
        kind: 'discard',
        sequence: 77,
        sourceIndex: 4,
        drops: 12,
        input: 0,
        output: 4,
        reason: 257,
        records: [{ type: 'header', protocol: 1, frameLength: frame.length + 4, header: frame }, { type: 'queue', queue: 3 }],
      },
    ]),
  );
  assert.equal(r['iana:ignoredPacketTotalCount'], 12);
  assert.equal(r['iana:droppedPacketDeltaCount'], 1);
  assert.equal(r['iana:droppedOctetDeltaCount'], frame.length - 14);
  assert.equal(r['iana:packetDeltaCount'], undefined, 'a discard event is not a sample of passing traffic');
  assert.equal(r['iana:octetDeltaCount'], undefined);
  assert.equal(r['iana:layer2OctetDeltaCount'], undefined);
  assert.equal(r['iana:samplingInterval'], undefined);
  assert.equal(r['iana:forwardingStatus'], 137, 'ttl_exceeded -> Dropped: bad TTL');
  assert.equal(r['sluice:sflowDropReason'], 257);
  assert.equal(r['iana:ingressInterface'], 0);
  assert.equal(r['iana:egressInterface'], 4);
  assert.equal(r['iana:flowDirection'], 1);
  assert.equal(r['iana:sourceIPv4Address'], '10.9.9.9');
  assert.equal(r['sluice:egressQueue'], 3);
});

const GENERIC: Extract<CounterRecord, { type: 'generic' }> = {
  type: 'generic',
  ifIndex: 12,
  ifType: 6,
  ifSpeed: 10_000_000_000,
  ifDirection: 1,
  ifStatus: 3,
  ifInOctets: 2n ** 40n + 5n,
  ifInUcastPkts: 1,
  ifInMulticastPkts: 2,
  ifInBroadcastPkts: 3,
  ifInDiscards: 4,
  ifInErrors: 5,
  ifInUnknownProtos: 6,
  ifOutOctets: 7,
  ifOutUcastPkts: 8,
  ifOutMulticastPkts: 9,
  ifOutBroadcastPkts: 10,
  ifOutDiscards: 11,
  ifOutErrors: 12,
  ifPromiscuousMode: 1,
};

test('counter samples: generic interface, Ethernet, VLAN, processor and port name records', () => {
  const h = decode(
    datagram([
      {
        kind: 'counters',
        sequence: 9,
        sourceIndex: 12,
        records: [
          GENERIC,
          { type: 'ethernet', dot3: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] },
          { type: 'portName', name: 'xe-0/0/1' },
        ],
      },
      {
        kind: 'counters',
        expanded: true,
        sequence: 10,
        sourceType: 1,
        sourceIndex: 300,
        records: [
          { type: 'vlan', vlanId: 300, octets: 123456789012, ucastPkts: 1, multicastPkts: 2, broadcastPkts: 3, discards: 4 },
          { type: 'processor', cpu5s: 1234, cpu1m: -1, cpu5m: 999, totalMemory: 8 * 2 ** 30, freeMemory: 2 ** 30 },
          { type: 'raw', enterprise: 0, format: 2203, data: Buffer.alloc(12) },
        ],
      },
    ]),
  );
  assert.deepEqual(h.drops, []);
  assert.equal(h.records.length, 2);
  assert.ok(h.records.every((r) => r['@type'] === 'sflow.counters'));
  const a = h.records.find((r) => r['sluice:sflowSampleSequenceNumber'] === 9)!;
  assert.equal(a['iana:exporterIPv4Address'], '192.0.2.10');
  assert.equal(a['iana:observationTimeMilliseconds'], Math.floor(NOW));
  assert.equal(a['sluice:sflowDataSourceIndex'], 12);
  assert.equal(a['sluice:ifIndex'], 12);
  assert.equal(a['sluice:ifSpeed'], 10_000_000_000);
  assert.equal(a['sluice:ifInOctets'], 2 ** 40 + 5);
  assert.equal(a['sluice:ifStatus'], 3);
  assert.equal(a['sluice:ifInUnknownProtos'], 6);
  assert.equal(a['sluice:ifOutErrors'], 12);
  assert.equal(a['sluice:ifPromiscuousMode'], 1);
  assert.equal(a['sluice:dot3StatsAlignmentErrors'], 1);
  assert.equal(a['sluice:dot3StatsSymbolErrors'], 13);
  assert.equal(a['iana:interfaceName'], 'xe-0/0/1');
  assert.equal(a['iana:octetDeltaCount'], undefined, 'counters are not flows');
  const b = h.records.find((r) => r['sluice:sflowSampleSequenceNumber'] === 10)!;
  assert.equal(b['sluice:sflowDataSourceType'], 1);
  assert.equal(b['sluice:sflowDataSourceIndex'], 300);
  assert.equal(b['iana:vlanId'], 300);
  assert.equal(b['sluice:vlanOctets'], 123456789012);
  assert.equal(b['sluice:vlanDiscards'], 4);
  assert.equal(b['sluice:cpuPercent5s'], 1234);
  assert.equal(b['sluice:cpuPercent1m'], -1, '-1 = unknown, kept signed');
  assert.equal(b['sluice:totalMemory'], 8 * 2 ** 30);
  assert.equal(b['sluice:freeMemory'], 2 ** 30);
  assert.equal(h.batches.filter((x) => x.template.recordType === 'sflow.counters').length, 2);
});

test('a counter sample with only records sluice does not map produces nothing and is not an error', () => {
  const h = decode(datagram([{ kind: 'counters', sequence: 1, sourceIndex: 1, records: [{ type: 'raw', format: 2000, data: Buffer.alloc(40) }] }]));
  assert.deepEqual(h.drops, []);
  assert.equal(h.records.length, 0);
});

test('unknown samples and records are skipped by their length; the rest of the datagram is kept', () => {
  const h = decode(
    datagram([
      { kind: 'raw', enterprise: 4300, format: 1, data: Buffer.alloc(20, 0xff) },
      { kind: 'raw', enterprise: 0, format: 9, data: Buffer.alloc(8) },
      flow([
        { type: 'raw', enterprise: 8800, format: 1, data: Buffer.alloc(13, 0xee) },
        { type: 'raw', enterprise: 0, format: 2100, data: Buffer.alloc(4) },
        { type: 'ipv4', length: 60, protocol: 17, src: '1.1.1.1', dst: '2.2.2.2', srcPort: 3, dstPort: 4, tcpFlags: 0, tos: 0 },
      ]),
    ]),
  );
  assert.deepEqual(h.dropReasons(), ['unsupported', 'unsupported']);
  assert.match(h.drops[0]!.detail, /^agent 192\.0\.2\.10 sub-agent 7: sample 0: format 4300:1 is not decoded/);
  assert.equal(h.drops[0]!.offset, 28);
  assert.equal(h.records.length, 1);
  assert.equal(h.records[0]!['iana:sourceIPv4Address'], '1.1.1.1');
});

test('records of one datagram: one batch per layout, records contiguous, batches outlive the next datagram', () => {
  const h = new Harness();
  const ip = (n: number): FlowRecord => ({ type: 'ipv4', length: 100 + n, protocol: 6, src: `10.0.0.${n}`, dst: '10.0.1.1', srcPort: n, dstPort: 80, tcpFlags: 0x10, tos: 0 });
  h.feed(
    datagram([
      flow([ip(1)]),
      { kind: 'counters', sequence: 1, sourceIndex: 3, records: [GENERIC] },
      flow([ip(2)]),
      flow([ip(3), { type: 'switch', srcVlan: 1, srcPriority: 0, dstVlan: 2, dstPriority: 0 }]),
      flow([ip(4)]),
    ]),
    NOW,
  );
  assert.deepEqual(h.batches.map((b) => b.count), [3, 1, 1]);
  const first = h.batches[0]!;
  const snapshot = Buffer.from(first.buf.subarray(first.starts[0], first.starts[first.count]));
  h.feed(datagram([flow([ip(9)])]), NOW);
  assert.deepEqual(Buffer.from(first.buf.subarray(first.starts[0], first.starts[first.count])), snapshot, 'a kept batch is not overwritten');
  assert.deepEqual(
    h.records.slice(0, 3).map((r) => r['iana:sourceIPv4Address']),
    ['10.0.0.1', '10.0.0.2', '10.0.0.4'],
  );
  assert.equal(h.pipeline.counters.byProtocol.get('sflow5'), 6);
});

test('scaled counters are exact 64-bit products of 32-bit values', () => {
  const h = new Harness({}, {});
  h.feed(datagram([flow([{ type: 'ipv4', length: 0xffffffff, protocol: 17, src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, tcpFlags: 0, tos: 0 }], { samplingRate: 0xffffffff })]), NOW);
  const b = h.batches[0]!;
  const k = b.template.fields.findIndex((f) => f.ie?.name === 'scaledOctetDeltaCount');
  let off = b.starts[0]!;
  for (let i = 0; i < k; i++) off += b.template.fields[i]!.length;
  assert.equal(b.buf.readBigUInt64BE(off), 0xffffffffn * 0xffffffffn);
});

test('template layouts are cached: the same groups give the same template object', () => {
  const h = new Harness();
  const d = datagram([flow([{ type: 'ipv4', length: 1, protocol: 6, src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, tcpFlags: 0, tos: 0 }])]);
  h.feed(d, NOW).feed(d, NOW);
  assert.equal(h.batches[0]!.template, h.batches[1]!.template);
  assert.ok(h.batches[0]!.template.fixedLength > 0);
});

test('sluice elements resolve through the registry first, so --ie-file definitions win', () => {
  const reg = IeRegistry.builtin();
  reg.add({ pen: SLUICE_PEN, id: 1, name: 'estimatedPackets', type: 'unsigned64', scope: 'mine' });
  const batches: FlowBatch[] = [];
  const drops: DropEvent[] = [];
  new SflowDecoder(reg).decode(datagram([flow([])]), makeSession('udp', '192.0.2.1', 1, 6343), NOW, { batch: (b) => batches.push(b), drop: (d) => drops.push(d) });
  const names = batches[0]!.template.fields.map((f) => `${f.ie?.scope}:${f.ie?.name}`);
  assert.ok(names.includes('mine:estimatedPackets'), names.join(' '));
  assert.ok(names.includes('sluice:sflowSampleSequenceNumber'));
  assert.equal(new Set(SLUICE_ELEMENTS.map((e) => e.id)).size, SLUICE_ELEMENTS.length, 'ids are unique');
});

// ---- bad input ---------------------------------------------------------------------------------

function decodeRaw(buf: Buffer): { h: Harness; reasons: string[] } {
  const h = decode(buf);
  return { h, reasons: h.dropReasons() };
}

test('bad input: short and cut headers, unknown agent address type', () => {
  assert.deepEqual(decodeRaw(Buffer.from([0, 0, 0, 5, 0, 0, 0, 1])).reasons, ['truncated']);
  const d = datagram([flow([])]);
  assert.deepEqual(decodeRaw(d.subarray(0, 20)).reasons, ['truncated']);
  const bad = Buffer.from(d);
  bad.writeUInt32BE(9, 4);
  const r = decodeRaw(bad);
  assert.deepEqual(r.reasons, ['bad-record']);
  assert.equal(r.h.drops[0]!.offset, 4);
});

test('bad input: a sample length past the datagram end loses the rest, keeps the samples before', () => {
  const d = datagram([flow([], { sequence: 1 }), flow([], { sequence: 2 }), flow([], { sequence: 3 })]);
  const cut = d.subarray(0, d.length - 10);
  const { h, reasons } = decodeRaw(cut);
  assert.deepEqual(reasons, ['truncated']);
  assert.equal(h.drops[0]!.count, 1);
  assert.equal(h.records.length, 2);
});

test('bad input: absurd sample and record counts neither hang nor allocate', () => {
  const d = Buffer.from(datagram([flow([{ type: 'queue', queue: 1 }])]));
  d.writeUInt32BE(0xffffffff, 24); // sample count
  let { h, reasons } = decodeRaw(d);
  assert.equal(h.records.length, 1);
  assert.deepEqual(reasons, ['bad-length'], 'a count no datagram could hold is a lying field');
  assert.equal(h.drops[0]!.count, 1, 'reported once, not as 4 billion lost samples');
  const e = Buffer.from(datagram([flow([{ type: 'queue', queue: 1 }])]));
  e.writeUInt32BE(0xffffffff, 28 + 8 + 28); // the flow sample's record count
  ({ h, reasons } = decodeRaw(e));
  assert.equal(h.records.length, 1, 'the sample keeps its one good record');
  assert.deepEqual(reasons, ['truncated']);
  const g = Buffer.from(datagram([flow([{ type: 'gateway', nextHop: undefined, as: 1, srcAs: 2, srcPeerAs: 3, asPath: [{ type: 2, asns: [1] }], communities: [], localPref: 0 }])]));
  g.writeUInt32BE(0xffffffff, 28 + 8 + 32 + 8 + 4 + 12); // AS path segment count
  ({ h, reasons } = decodeRaw(g));
  assert.deepEqual(reasons, ['bad-record']);
  assert.match(h.drops[0]!.detail, /AS path segment/);
});

test('bad input: lying record lengths and short records are reported with their offsets', () => {
  const d = Buffer.from(datagram([flow([{ type: 'ipv4', length: 1, protocol: 6, src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, tcpFlags: 0, tos: 0 }, { type: 'queue', queue: 1 }])]));
  const rec2 = 28 + 8 + 32 + 8 + 32;
  d.writeUInt32BE(1000, rec2 + 4); // the queue record claims 1000 bytes
  let { h, reasons } = decodeRaw(d);
  assert.deepEqual(reasons, ['bad-length']);
  assert.equal(h.drops[0]!.offset, rec2);
  assert.equal(h.records[0]!['iana:sourceIPv4Address'], '1.1.1.1');
  const s = datagram([flow([{ type: 'raw', format: 3, data: Buffer.alloc(12) }])]);
  ({ h, reasons } = decodeRaw(s));
  assert.deepEqual(reasons, ['bad-record']);
  assert.match(h.drops[0]!.detail, /IPv4 data record of 12 bytes/);
  assert.equal(h.drops[0]!.offset, 28 + 8 + 32);
  const hdr = Buffer.from(datagram([flow([{ type: 'header', protocol: 1, frameLength: 60, header: Buffer.alloc(16) }])]));
  hdr.writeUInt32BE(5000, 28 + 8 + 32 + 8 + 12); // header length beyond the record
  ({ h, reasons } = decodeRaw(hdr));
  assert.deepEqual(reasons, ['bad-record']);
  assert.equal(h.records.length, 1);
});

test('bad input: trailing bytes after the last sample are counted', () => {
  const d = Buffer.concat([datagram([flow([])]), Buffer.alloc(6, 1)]);
  const { h, reasons } = decodeRaw(d);
  assert.deepEqual(reasons, ['bad-length']);
  assert.equal(h.drops[0]!.count, 6);
  assert.equal(h.records.length, 1);
});

test('drops are counted by sFlow agent, not by the transport source', () => {
  const c = new DropCounters();
  const h = new Harness();
  const relay = makeSession('udp', '192.0.2.200', 5000, 6343);
  h.feed(datagram([{ kind: 'raw', format: 77, data: Buffer.alloc(4) }], '198.51.100.1'), NOW, relay);
  h.feed(datagram([{ kind: 'raw', format: 77, data: Buffer.alloc(4) }], '198.51.100.2'), NOW, relay);
  for (const d of h.drops) c.add(d);
  assert.deepEqual([...c.byExporter.keys()], ['198.51.100.1', '198.51.100.2']);
  assert.deepEqual([...h.pipeline.counters.drops.byExporter.keys()], ['198.51.100.1', '198.51.100.2']);
});

test('sluice decode reads sFlow out of a capture', async () => {
  const r = await runSluice(['decode', 'test/fixtures/pcap/telegraf-sflow_v5_example.pcap']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonRecord);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!['@type'], 'sflow.counters');
  assert.equal(lines[0]!['iana:interfaceName'], 'eno1');
  assert.equal(lines[0]!['sluice:ifInOctets'], 3910);
});

test('a consumer that throws costs one datagram; batches it was handed stay intact', () => {
  const dec = new SflowDecoder(IeRegistry.builtin());
  const session = makeSession('udp', '192.0.2.1', 1, 6343);
  const kept: FlowBatch[] = [];
  const drops: DropEvent[] = [];
  let calls = 0;
  const sink = {
    batch: (b: FlowBatch) => {
      kept.push(b);
      if (++calls === 1) throw new Error('consumer bug');
    },
    drop: (d: DropEvent) => drops.push(d),
  };
  const ip = (n: number): FlowRecord => ({ type: 'ipv4', length: 100, protocol: 6, src: `10.0.0.${n}`, dst: '10.0.1.1', srcPort: n, dstPort: 80, tcpFlags: 0x10, tos: 0 });
  dec.decode(datagram([flow([ip(1)]), { kind: 'counters', sequence: 1, sourceIndex: 3, records: [GENERIC] }]), session, NOW, sink);
  assert.equal(drops.length, 1);
  assert.match(drops[0]!.detail, /internal sFlow decoder error: consumer bug/);
  const first = kept[0]!;
  const before = Buffer.from(first.buf.subarray(first.starts[0], first.starts[1]));
  dec.decode(datagram([flow([ip(2)]), flow([ip(3)])]), session, NOW, sink);
  assert.deepEqual(Buffer.from(first.buf.subarray(first.starts[0], first.starts[1])), before);
  assert.equal(kept.at(-1)!.count, 2);
});

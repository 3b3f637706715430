import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector, runSluice } from './helpers/cli.js';
import { IpfixMessageBuilder, encodeNetflow5, type EncTemplate } from '../src/wire/encode/ipfix.js';
import { ethernetIpv4Udp, ethernetIpv6Udp } from '../src/wire/packet/build.js';
import { writePcap, writePcapng } from '../src/wire/pcap/write.js';

const T: EncTemplate = { id: 256, fields: [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 4 }, { id: 4, length: 1 }] };
const tpl = () => new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_700_000_000, sequence: 0 }).templates([T]).build();
const data = (n: number, seq = 0) =>
  new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_700_000_000, sequence: seq })
    .data(T, Array.from({ length: n }, (_, i) => ['10.0.0.1', `10.0.0.${i + 2}`, 100 + i, 17]))
    .build();

test('sluice decode: pcap and pcapng in order, templates carried across files, summary on stderr', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-decode-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const frame = (payload: Buffer) => ethernetIpv4Udp({ src: '192.0.2.10', dst: '192.0.2.20', srcPort: 5000, dstPort: 4739, payload });
  writeFileSync(path.join(dir, 'a.pcap'), writePcap([{ tsMs: 1_700_000_000_000, data: frame(tpl()) }]));
  writeFileSync(path.join(dir, 'b.pcapng'), writePcapng([{ tsMs: 1_700_000_001_000, data: frame(data(3)) }, { tsMs: 1_700_000_001_500, data: frame(Buffer.from('garbage!')) }]));
  const r = await runSluice(['decode', path.join(dir, 'a.pcap'), path.join(dir, 'b.pcapng')]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!['iana:destinationIPv4Address'], '10.0.0.4');
  assert.match(r.stderr, /2 datagrams|3 datagrams/);
  assert.match(r.stderr, /3 records/);
  assert.match(r.stderr, /bad-version=1/);
});

test('sluice decode: raw payload files, IPv6 capture, unreadable file gives exit code 1', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-decode-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'tpl.bin'), tpl());
  writeFileSync(path.join(dir, 'data.bin'), Buffer.concat([data(2, 1), data(1, 3)]));
  const r = await runSluice(['decode', path.join(dir, 'tpl.bin'), path.join(dir, 'data.bin'), '-f', 'json,protocol=raw']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 3);
  assert.match(r.stdout, /"iana:protocolIdentifier":17/);
  const v6 = ethernetIpv6Udp({ src: '2001:db8::10', dst: '2001:db8::20', srcPort: 5000, dstPort: 4739, payload: Buffer.concat([tpl()]) });
  const v6b = ethernetIpv6Udp({ src: '2001:db8::10', dst: '2001:db8::20', srcPort: 5000, dstPort: 4739, payload: data(1) });
  writeFileSync(path.join(dir, 'v6.pcap'), writePcap([{ tsMs: 1, data: v6 }, { tsMs: 2, data: v6b }]));
  const r6 = await runSluice(['decode', path.join(dir, 'v6.pcap'), '-f', 'json,detailedInfo=true']);
  assert.equal(r6.code, 0);
  assert.match(r6.stdout, /"ipfix:srcAddr":"2001:db8::10"/);
  const bad = await runSluice(['decode', path.join(dir, 'missing.bin')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cannot read/);
});

test('sluice collect: UDP over IPv4 and IPv6 loopback, IPFIX over TCP split across writes, bad input survives', async (t) => {
  const c = await Collector.start(['--listen', 'udp://127.0.0.1:0', '--listen', 'udp://[::1]:0', '--listen', 'tcp://127.0.0.1:0'], 3);
  t.after(() => c.stop());
  const [p4, p6, pt] = c.ports as [number, number, number];

  const s4 = dgram.createSocket('udp4');
  const s6 = dgram.createSocket('udp6');
  t.after(() => {
    s4.close();
    s6.close();
  });
  const send = (s: dgram.Socket, buf: Buffer, port: number, host: string) => new Promise<void>((r, j) => s.send(buf, port, host, (e) => (e ? j(e) : r())));
  await send(s4, Buffer.from('not a flow'), p4, '127.0.0.1');
  await send(s4, tpl(), p4, '127.0.0.1');
  await send(s4, data(2), p4, '127.0.0.1');
  await send(s4, encodeNetflow5({ sysUpTimeMs: 1, unixSecs: 1_700_000_000, sequence: 0 }, [{ src: '1.1.1.1', dst: '2.2.2.2', packets: 1, octets: 1, firstMs: 0, lastMs: 0, srcPort: 1, dstPort: 2, protocol: 17 }]), p4, '127.0.0.1');
  await send(s6, tpl(), p6, '::1');
  await send(s6, data(1), p6, '::1');

  // TCP: template and data as one stream, cut at awkward places.
  const stream = Buffer.concat([tpl(), data(3)]);
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect(pt, '127.0.0.1', async () => {
      for (const cut of [3, 17, stream.length]) {
        sock.write(stream.subarray(cut === 3 ? 0 : cut === 17 ? 3 : 17, cut));
        await new Promise((r) => setTimeout(r, 30));
      }
      sock.end();
      resolve();
    });
    sock.on('error', reject);
  });
  await c.waitForLines(2 + 1 + 1 + 3);
  const lines = c.lines();
  assert.equal(lines.length, 7, c.stderr);
  assert.equal(lines.filter((l) => l['iana:sourceIPv4Address'] === '1.1.1.1').length, 1);
  const code = await c.stop();
  assert.equal(code, 0);
  assert.match(c.stderr, /bad-version/);
  assert.match(c.stderr, /stopped: \d+ datagrams, 7 records/);
});

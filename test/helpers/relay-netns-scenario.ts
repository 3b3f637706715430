/**
 * Runs inside a network namespace made by test/relay-spoof.test.ts (lo up at MTU 1500, with
 * fd00::1 and fd00::7 on it): spoofed relaying of datagrams larger than the MTU, IPv4 and IPv6,
 * from a sender bound to 127.0.0.7 / fd00::7. Prints one JSON line with what the receivers saw
 * and the namespace's IP reassembly / fragmentation counters.
 */
import { readFileSync } from 'node:fs';
import { parseReceiver, Replicator, resolveReceiver } from '../../src/relay/index.js';
import { payloads, udpReceiver, udpSender, waitFor } from './relay-udp.js';

function snmp(): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('Ip: ') || !lines[i + 1]!.startsWith('Ip: ')) continue;
    const k = lines[i]!.split(/\s+/).slice(1);
    const v = lines[i + 1]!.split(/\s+/).slice(1);
    k.forEach((name, j) => (out[`Ip${name}`] = Number(v[j])));
    break;
  }
  for (const line of readFileSync('/proc/net/snmp6', 'utf8').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && v !== undefined) out[k] = Number(v);
  }
  return out;
}

const sizes = [3000, 1472, 1473, 8000, 65_000];
const r4 = await udpReceiver('127.0.0.1');
const r6 = await udpReceiver('fd00::1');
const rep = await Replicator.open(
  [await resolveReceiver(parseReceiver(`127.0.0.1/${r4.port}/1/S`)), await resolveReceiver(parseReceiver(`[fd00::1]/${r6.port}/1/S`))],
  { log: (l) => process.stderr.write(`${l}\n`) },
);
const s4 = await udpSender('127.0.0.7');
const s6 = await udpSender('fd00::7');
// The relay's own listening sockets: datagrams reach the engine from the senders' real addresses.
const l4 = await udpReceiver('127.0.0.1');
const l6 = await udpReceiver('fd00::1');
const data = payloads(sizes.length).map((b, i) => Buffer.concat([b, Buffer.alloc(sizes[i]! - b.length > 0 ? sizes[i]! - b.length : 0, i)]).subarray(0, sizes[i]));
for (const d of data) {
  await s4.send(d, l4.port, '127.0.0.1');
  await s6.send(d, l6.port, 'fd00::1');
}
await waitFor('the relay inputs', () => l4.got.length === data.length && l6.got.length === data.length);
// Counted from here: the senders' own datagrams above were fragmented and reassembled too.
const before = snmp();
for (let i = 0; i < data.length; i++) {
  rep.handle(l4.got[i]!.buf, l4.got[i]!.address, l4.got[i]!.port);
  rep.handle(l6.got[i]!.buf, l6.got[i]!.address, l6.got[i]!.port);
}
await waitFor('the spoofed copies', () => r4.got.length === data.length && r6.got.length === data.length, 5000).catch(() => {});
const after = snmp();
const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
const seen = (got: typeof r4.got) => got.map((g, i) => ({ address: g.address, port: g.port, length: g.buf.length, identical: data[i] !== undefined && g.buf.equals(data[i]!) }));
process.stdout.write(
  `${JSON.stringify({
    sizes,
    sender4: s4.port,
    sender6: s6.port,
    v4: seen(r4.got),
    v6: seen(r6.got),
    counters: rep.counters.receivers.map((c) => ({ sent: c.sent, dropped: c.dropped })),
    ipReasmOKs: delta('IpReasmOKs'),
    ipFragCreates: delta('IpFragCreates'),
    ip6ReasmOKs: delta('Ip6ReasmOKs'),
    ip6FragCreates: delta('Ip6FragCreates'),
  })}\n`,
);
s4.close();
s6.close();
await Promise.all([r4.close(), r6.close(), l4.close(), l6.close()]);
await rep.close();

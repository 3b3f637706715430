/**
 * The relay's batched path on loopback: the addon's recvmmsg listener feeding Replicator.handleBatch,
 * with sendmmsg per receiver; and the node:dgram fallback when the addon is not there.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { listenRelay, parseAddress, parseReceiver, Replicator, resolveReceiver, type DatagramBatch, type RelayListener, type ResolvedReceiver } from '../src/relay/index.js';
import { ADDON_PATH } from '../src/sources/native-addon.js';
import { startRelay, udpReceiver, udpSender, waitFor, type TestReceiver } from './helpers/relay-udp.js';

const receiver = (text: string): Promise<ResolvedReceiver> => resolveReceiver(parseReceiver(text));
const addonBuilt = existsSync(ADDON_PATH);

/** 5 000 datagrams: zero-length ones, the largest IPv4 UDP payload (65 507 bytes) and sizes between. */
function burst(n = 5000): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const size = i % 997 === 5 ? 65_507 : i % 250 === 3 ? 0 : 4 + ((i * 7919) % 1800);
    const b = Buffer.alloc(size);
    if (size >= 4) b.writeUInt32BE(i, 0);
    for (let k = 4; k < size; k++) b[k] = (i * 13 + k) & 0xff;
    out.push(b);
  }
  return out;
}

function same(got: TestReceiver, want: Buffer[], what: string): void {
  assert.equal(got.got.length, want.length, `${what}: count`);
  for (let i = 0; i < want.length; i++) assert.ok(got.got[i]!.buf.equals(want[i]!), `${what}: datagram ${i} (${want[i]!.length} bytes) differs`);
}

/** Watches handleBatch for the largest batch it was given (proof that batches of more than one happen). */
function spyBatches(rep: Replicator): { max: number; calls: number } {
  const seen = { max: 0, calls: 0 };
  const orig = rep.handleBatch.bind(rep);
  rep.handleBatch = (b: DatagramBatch) => {
    seen.calls++;
    seen.max = Math.max(seen.max, b.count);
    orig(b);
  };
  return seen;
}

/** Sends data in chunks of `chunk` (each chunk at once, so the relay finds many queued), waiting for arrival. */
async function sendAll(to: { port: number; address: string }, from: string, data: Buffer[], arrived: () => number, chunk = 100): Promise<void> {
  const s = await udpSender(from);
  try {
    for (let i = 0; i < data.length; i += chunk) {
      const part = data.slice(i, i + chunk);
      await Promise.all(part.map((d) => s.send(d, to.port, to.address)));
      await waitFor(`datagrams up to ${i + part.length}`, () => arrived() >= i + part.length, 10_000);
    }
  } finally {
    s.close();
  }
}

describe('relay batched receive and send (native addon)', { skip: addonBuilt ? false : `the native addon is not built (${ADDON_PATH})` }, () => {
  it('relays a burst of 5 000 datagrams (0 to 65 507 bytes) byte-identical and in order to an IPv4 and an IPv6 receiver, 1 in 3 to a third', async (t) => {
    const a = await udpReceiver();
    const b = await udpReceiver('::1');
    const c = await udpReceiver();
    const rep = await Replicator.open([await receiver(`127.0.0.1/${a.port}`), await receiver(`[::1]/${b.port}`), await receiver(`127.0.0.1/${c.port}/3`)], { log: () => {} });
    const spy = spyBatches(rep);
    const l = await listenRelay(rep, { host: '127.0.0.1', port: 0, recvBufferBytes: 8 << 20, onError: (e) => assert.fail(e) });
    t.after(async () => {
      await l.close();
      await rep.close();
      await Promise.all([a.close(), b.close(), c.close()]);
    });
    assert.equal(l.kind, 'batched');
    const data = burst();
    await sendAll({ port: l.address().port, address: '127.0.0.1' }, '127.0.0.1', data, () => Math.min(a.got.length, b.got.length));
    await waitFor('the sampled receiver', () => c.got.length === Math.ceil(data.length / 3));
    same(a, data, 'IPv4 receiver');
    same(b, data, 'IPv6 receiver');
    same(c, data.filter((_, i) => i % 3 === 0), 'sampled receiver');
    const [ca, cb, cc] = rep.counters.receivers;
    const bytes = data.reduce((n, d) => n + d.length, 0);
    assert.equal(rep.counters.received, data.length);
    assert.equal(rep.counters.receivedBytes, bytes);
    assert.deepEqual([ca!.sent, cb!.sent, cc!.sent, cc!.skipped], [5000, 5000, 1667, 3333]);
    assert.deepEqual([ca!.sentBytes, cb!.sentBytes], [bytes, bytes]);
    assert.ok(spy.max > 1, `batches of more than one datagram were handled (largest ${spy.max} in ${spy.calls} calls)`);
  });

  it('selects receivers by source for IPv4 senders on the dual-stack socket (::ffff:127.0.0.x) and IPv6 senders', async (t) => {
    const v4 = await udpReceiver();
    const v6 = await udpReceiver();
    const all = await udpReceiver();
    const rule = async (prefix: string, r: TestReceiver, where: string) => {
      const [addr, len] = prefix.split('/');
      const { prefixFromLength } = await import('../src/wire/packet/addr.js');
      return { prefix: prefixFromLength(parseAddress(addr!)!, Number(len)), receivers: [await receiver(`127.0.0.1/${r.port}`)], where };
    };
    const rules = [await rule('127.0.0.0/8', v4, 'r4'), await rule('::1/128', v6, 'r6')];
    const rep = await Replicator.open([await receiver(`127.0.0.1/${all.port}`)], { rules, log: () => {} });
    const l = await listenRelay(rep, { port: 0, recvBufferBytes: 1 << 20, onError: (e) => assert.fail(e) });
    t.after(async () => {
      await l.close();
      await rep.close();
      await Promise.all([v4.close(), v6.close(), all.close()]);
    });
    assert.equal(l.kind, 'batched');
    assert.equal(l.address().address, '::');
    const d4 = burst(300).map((d, i) => (i % 50 === 1 ? d : d.subarray(0, Math.min(d.length, 900))));
    const d6 = d4.map((d) => Buffer.concat([Buffer.from('v6'), d]));
    await sendAll({ port: l.address().port, address: '127.0.0.1' }, '127.0.0.7', d4, () => v4.got.length, 50);
    await sendAll({ port: l.address().port, address: '::1' }, '::1', d6, () => v6.got.length, 50);
    await waitFor('every copy', () => all.got.length === 600);
    same(v4, d4, 'IPv4 rule');
    same(v6, d6, 'IPv6 rule');
    same(all, [...d4, ...d6], 'command-line receiver');
    assert.equal(rep.counters.unmatched, 0);
  });

  it('reports each source as node:dgram does in -d lines: IPv4-mapped on the dual-stack socket, IPv6 as is', async (t) => {
    const r = await udpReceiver();
    const lines: string[] = [];
    const rep = await Replicator.open([await receiver(`127.0.0.1/${r.port}`)], { debug: (line) => lines.push(line), log: () => {} });
    const l = await listenRelay(rep, { port: 0, recvBufferBytes: 1 << 20, onError: (e) => assert.fail(e) });
    const l4 = await listenRelay(rep, { host: '127.0.0.1', port: 0, recvBufferBytes: 1 << 20, onError: (e) => assert.fail(e) });
    t.after(async () => {
      await Promise.all([l.close(), l4.close()]);
      await rep.close();
      await r.close();
    });
    const s4 = await udpSender('127.0.0.9');
    const s6 = await udpSender('::1');
    t.after(() => {
      s4.close();
      s6.close();
    });
    await s4.send(Buffer.alloc(10), l.address().port, '127.0.0.1');
    await waitFor('one copy', () => r.got.length === 1);
    await s6.send(Buffer.alloc(11), l.address().port, '::1');
    await waitFor('two copies', () => r.got.length === 2);
    await s4.send(Buffer.alloc(12), l4.address().port, '127.0.0.1');
    await waitFor('three copies', () => r.got.length === 3);
    const to = `127.0.0.1/${r.port}`;
    assert.deepEqual(lines, [`::ffff:127.0.0.9 port ${s4.port}, 10 bytes -> ${to}`, `::1 port ${s6.port}, 11 bytes -> ${to}`, `127.0.0.9 port ${s4.port}, 12 bytes -> ${to}`]);
  });

  it('counts a receiver that is down once per failed copy while the live one gets everything', async (t) => {
    const live = await udpReceiver();
    const deadSock = dgram.createSocket('udp4');
    await new Promise<void>((r) => deadSock.bind(0, '127.0.0.1', () => r()));
    const dead = deadSock.address().port;
    await new Promise<void>((r) => deadSock.close(() => r()));
    const rep = await Replicator.open([await receiver(`127.0.0.1/${dead}`), await receiver(`127.0.0.1/${live.port}`)], { log: () => {} });
    const l = await listenRelay(rep, { host: '127.0.0.1', port: 0, recvBufferBytes: 1 << 20, onError: (e) => assert.fail(e) });
    t.after(async () => {
      await l.close();
      await rep.close();
      await live.close();
    });
    const data = burst(1000).map((d) => d.subarray(0, Math.min(d.length, 500)));
    await sendAll({ port: l.address().port, address: '127.0.0.1' }, '127.0.0.1', data, () => live.got.length, 100);
    same(live, data, 'live receiver');
    const down = rep.counters.receivers[0]!;
    assert.ok(down.dropped.unreachable > 0, `unreachable counted (${JSON.stringify(down)})`);
    assert.equal(down.sent + down.dropped.unreachable, 1000, 'every copy is either sent or counted');
    assert.equal(rep.counters.receivers[1]!.sent, 1000);
  });

  it('falls back to node:dgram when asked, with the same results', async (t) => {
    const a = await udpReceiver();
    const rep = await Replicator.open([await receiver(`127.0.0.1/${a.port}`)], { log: () => {} });
    const l: RelayListener = await listenRelay(rep, { host: '127.0.0.1', port: 0, recvBufferBytes: 8 << 20, receiver: 'dgram', onError: (e) => assert.fail(e) });
    t.after(async () => {
      await l.close();
      await rep.close();
      await a.close();
    });
    assert.equal(l.kind, 'dgram');
    const data = burst(1000);
    await sendAll({ port: l.address().port, address: '127.0.0.1' }, '127.0.0.1', data, () => a.got.length);
    same(a, data, 'receiver');
  });
});

describe('sluice relay without the native addon', () => {
  it('receives through node:dgram (SLUICE_NATIVE_ADDON names a missing file) and relays everything byte-identical', async (t) => {
    const a = await udpReceiver();
    const b = await udpReceiver('::1');
    const relay = await startRelay(['-p', '0', '-s', '127.0.0.1', '-b', String(8 << 20), `127.0.0.1/${a.port}`, `[::1]/${b.port}`], { SLUICE_NATIVE_ADDON: '/nonexistent/sluice_native.node' });
    t.after(async () => {
      await relay.stop();
      await Promise.all([a.close(), b.close()]);
    });
    assert.match(relay.stderr(), /receiving one datagram at a time \(node:dgram/);
    const data = burst(2000);
    await sendAll({ port: relay.port, address: '127.0.0.1' }, '127.0.0.1', data, () => Math.min(a.got.length, b.got.length));
    same(a, data, 'IPv4 receiver');
    same(b, data, 'IPv6 receiver');
    const { stderr } = await relay.stop();
    assert.match(stderr, /stopped: received 2000 datagrams/);
  });

  it('receives in batches when the addon is there', { skip: addonBuilt ? false : 'the native addon is not built' }, async (t) => {
    const a = await udpReceiver();
    const relay = await startRelay(['-p', '0', '-s', '127.0.0.1', '-b', String(8 << 20), `127.0.0.1/${a.port}`]);
    t.after(async () => {
      await relay.stop();
      await a.close();
    });
    assert.match(relay.stderr(), /receiving in batches \(native addon\)/);
    const data = burst(500);
    await sendAll({ port: relay.port, address: '127.0.0.1' }, '127.0.0.1', data, () => a.got.length, 25);
    same(a, data, 'receiver');
  });
});

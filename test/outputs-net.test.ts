import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { SendOutput } from '../src/outputs/send.js';
import { ServerOutput } from '../src/outputs/server.js';

const PAD = 'x'.repeat(40);
const lines = (from: number, to: number) => {
  let s = '';
  for (let i = from; i < to; i++) s += `{"n":${i},"pad":"${PAD}"}\n`;
  return Buffer.from(s);
};

/** Waits until cond() holds, polling; fails after timeoutMs. */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A TCP client collecting lines. */
function client(port: number): Promise<{ sock: net.Socket; lines: string[]; buf: { s: string } }> {
  return new Promise((resolve, reject) => {
    const c = { lines: [] as string[], buf: { s: '' } };
    const sock = net.connect(port, '127.0.0.1', () => resolve({ sock, ...c }));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      c.buf.s += d;
      const parts = c.buf.s.split('\n');
      c.buf.s = parts.pop()!;
      c.lines.push(...parts);
    });
    sock.on('error', reject);
  });
}

test('server output: three clients, one never reads: the others get everything, the slow one drops are counted', async (t) => {
  const out = new ServerOutput('tcp-server://127.0.0.1:0', { host: '127.0.0.1', port: 0, blocking: false, boundBytes: 64 * 1024 });
  await out.open();
  const a = await client(out.port);
  const b = await client(out.port);
  const slow = await client(out.port);
  slow.sock.pause(); // never reads: the kernel buffers fill, then the server's queue bound
  t.after(async () => {
    [a, b, slow].forEach((c) => c.sock.destroy());
    await out.close();
  });
  await until(() => out.clientCount === 3, 'three clients');

  const CHUNK = 2000;
  const CHUNKS = 100; // ~12 MB in all, far beyond loopback socket buffers plus the 64 KiB bound
  for (let k = 0; k < CHUNKS; k++) {
    out.write(lines(k * CHUNK, (k + 1) * CHUNK));
    const want = (k + 1) * CHUNK;
    await until(() => a.lines.length === want && b.lines.length === want, `fast clients at ${want}`);
  }
  const total = CHUNK * CHUNKS;
  for (const c of [a, b]) {
    assert.equal(c.lines.length, total);
    assert.deepEqual(JSON.parse(c.lines[total - 1]!), { n: total - 1, pad: PAD });
    assert.ok(c.lines.every((l, i) => l.startsWith(`{"n":${i},`)), 'in order, nothing lost');
  }
  const c = out.counters;
  assert.ok(c.dropped > 0, 'the slow client lost lines');
  assert.equal(c.dropReasons['slow-client'], c.dropped);
  assert.equal(c.written + c.dropped, 3 * total, 'every line either went to a client or was counted');
  assert.ok(c.written >= 2 * total);
});

test('server output: a client joining mid-stream starts at a whole line', async (t) => {
  const out = new ServerOutput('srv', { host: '127.0.0.1', port: 0, blocking: true });
  await out.open();
  t.after(() => out.close());
  const first = await client(out.port);
  t.after(() => first.sock.destroy());
  await until(() => out.clientCount === 1, 'first client');
  out.write(lines(0, 100));
  const late = await client(out.port);
  t.after(() => late.sock.destroy());
  await until(() => out.clientCount === 2, 'late client');
  out.write(lines(100, 200));
  await until(() => late.lines.length === 100 && first.lines.length === 200, 'lines');
  assert.ok(late.lines.every((l, i) => (JSON.parse(l) as { n: number }).n === 100 + i));
  assert.equal(out.counters.dropped, 0);
});

test('send output over TCP: receiver restarts mid-stream; lines while it is down are dropped and counted, later ones arrive', async (t) => {
  const got: string[] = [];
  const conns = new Set<net.Socket>();
  const listen = (port: number) =>
    new Promise<net.Server>((resolve) => {
      const srv = net.createServer((s) => {
        conns.add(s);
        s.on('close', () => conns.delete(s));
        let rest = '';
        s.setEncoding('utf8').on('data', (d: string) => {
          const parts = (rest + d).split('\n');
          rest = parts.pop()!;
          got.push(...parts);
        });
      });
      srv.listen(port, '127.0.0.1', () => resolve(srv));
    });
  let srv = await listen(0);
  const port = (srv.address() as net.AddressInfo).port;
  const out = new SendOutput('tcp://127.0.0.1', { protocol: 'tcp', host: '127.0.0.1', port, blocking: false, reconnectMs: 100 });
  t.after(async () => {
    await out.close();
    for (const s of conns) s.destroy();
    srv.close();
  });
  await out.open();
  await until(() => out.isConnected, 'connected');
  out.write(lines(0, 100));
  await until(() => got.length === 100, 'first 100 lines');

  // The receiver goes away.
  await new Promise<void>((r) => {
    srv.close(() => r());
    for (const s of conns) s.destroy();
  });
  await until(() => !out.isConnected, 'disconnect noticed');
  out.write(lines(100, 150));
  assert.equal(out.counters.dropped, 50);
  assert.equal(out.counters.dropReasons['disconnected'], 50);

  // It comes back on the same port: the output reconnects on its own.
  srv = await listen(port);
  await until(() => out.isConnected, 'reconnected');
  out.write(lines(150, 200));
  await until(() => got.length === 150, 'lines after the restart');
  assert.ok(got.slice(100).every((l, i) => l.startsWith(`{"n":${150 + i},`)));
  assert.equal(out.counters.written, 150);
});

test('send output over UDP: whole lines packed into datagrams of at most 1400 bytes, a longer line alone', async (t) => {
  const rx = dgram.createSocket('udp4');
  const grams: Buffer[] = [];
  rx.on('message', (m) => grams.push(m));
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  t.after(() => rx.close());
  const port = rx.address().port;
  const out = new SendOutput('udp://127.0.0.1', { protocol: 'udp', host: '127.0.0.1', port, blocking: false });
  await out.open();
  const long = Buffer.from(`{"long":"${'y'.repeat(3000)}"}\n`);
  const all = Buffer.concat([lines(0, 300), long, lines(300, 600)]);
  out.write(all);
  await out.close();
  await until(() => Buffer.concat(grams).length === all.length, 'every datagram');
  assert.ok(Buffer.concat(grams).equals(all), 'same bytes, in order');
  for (const g of grams) {
    assert.equal(g[g.length - 1], 10, 'each datagram ends with a whole line');
    if (g.length > 1400) assert.equal(g.indexOf(10), g.length - 1, 'only a single line may exceed 1400 bytes');
  }
  assert.ok(grams.some((g) => g.length > 1400), 'the long line went alone');
  assert.equal(out.counters.written, 601);
  assert.equal(out.counters.dropped, 0);
});

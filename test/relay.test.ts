/**
 * sluice relay on loopback: the engine (Replicator.handle) and the command, with real sockets.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseReceiver, Replicator, resolveReceiver, type ResolvedReceiver } from '../src/relay/index.js';
import { ADDON_PATH } from '../src/sources/native-addon.js';
import { deadPort, payloads, runRelayExpectingFailure, startRelay, udpReceiver, udpSender, waitFor, type TestReceiver } from './helpers/relay-udp.js';

const receiver = (text: string): Promise<ResolvedReceiver> => resolveReceiver(parseReceiver(text));
const same = (got: TestReceiver, want: Buffer[]) => {
  assert.equal(got.got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(got.got[i]!.buf.equals(want[i]!), `datagram ${i} differs`);
};

const addonBuilt = existsSync(ADDON_PATH);
for (const plainSender of ['dgram', 'native'] as const) {
describe(`Replicator on loopback (plain copies through ${plainSender === 'dgram' ? 'node:dgram' : 'the native addon'})`, { skip: plainSender === 'native' && !addonBuilt ? `the native addon is not built (${ADDON_PATH})` : false }, () => {
  it('sends N datagrams to each receiver, N/interval to a sampled one, byte-identical and in order', async (t) => {
    const a = await udpReceiver();
    const b = await udpReceiver('::1');
    const c = await udpReceiver();
    const rep = await Replicator.open([await receiver(`127.0.0.1/${a.port}`), await receiver(`[::1]/${b.port}`), await receiver(`127.0.0.1/${c.port}/3,7`)], { plainSender, log: () => {} });
    t.after(async () => {
      await rep.close();
      await Promise.all([a.close(), b.close(), c.close()]);
    });
    const data = payloads(600);
    for (let i = 0; i < data.length; i += 100) {
      for (const d of data.slice(i, i + 100)) rep.handle(d, '192.0.2.1', 5000);
      await waitFor('a batch', () => a.got.length === Math.min(i + 100, data.length) && b.got.length === a.got.length);
    }
    await waitFor('the sampled receiver', () => c.got.length === 200);
    same(a, data);
    same(b, data);
    same(c, data.filter((_, i) => i % 3 === 0));
    const [ca, cb, cc] = rep.counters.receivers;
    assert.deepEqual([ca!.sent, cb!.sent, cc!.sent, cc!.skipped], [600, 600, 200, 400]);
    assert.equal(rep.counters.received, 600);
    assert.equal(ca!.sentBytes, data.reduce((n, d) => n + d.length, 0));
  });

  it('counts a receiver that is down (ICMP port unreachable) without losing anything for the others', async (t) => {
    const live = await udpReceiver();
    const dead = await deadPort();
    const rep = await Replicator.open([await receiver(`127.0.0.1/${dead}`), await receiver(`127.0.0.1/${live.port}`)], { plainSender, log: () => {} });
    t.after(async () => {
      await rep.close();
      await live.close();
    });
    const data = payloads(300, 200);
    for (let i = 0; i < data.length; i++) {
      rep.handle(data[i]!, '192.0.2.1', 5000);
      // Let the ICMP errors come back between datagrams, as they do with real traffic.
      if (i % 10 === 9) await waitFor('the live receiver', () => live.got.length === i + 1);
    }
    await waitFor('the live receiver', () => live.got.length === 300);
    same(live, data);
    const down = rep.counters.receivers[0]!;
    assert.ok(down.dropped.unreachable > 0, `unreachable counted (${JSON.stringify(down)})`);
    assert.ok(down.sent < 300 && down.sent >= 300 - down.dropped.unreachable, `a pending ICMP error fails the next send: ${down.sent} sent`);
    // The addon's sockets are never read, so every ICMP error is the failure of exactly one send.
    if (plainSender === 'native') assert.equal(down.sent + down.dropped.unreachable, 300);
    assert.equal(rep.counters.receivers[1]!.sent, 300);
  });

  it('counts a datagram too big for one receiver and still delivers it to the others', async (t) => {
    const v4 = await udpReceiver();
    const v6 = await udpReceiver('::1');
    const problems: string[] = [];
    const rep = await Replicator.open([await receiver(`127.0.0.1/${v4.port}`), await receiver(`[::1]/${v6.port}`)], { plainSender, log: (l) => problems.push(l) });
    t.after(async () => {
      await rep.close();
      await Promise.all([v4.close(), v6.close()]);
    });
    const huge = Buffer.alloc(65_520, 0xab); // fits UDP over IPv6 (65 527), not over IPv4 (65 507)
    const small = Buffer.from('after the big one');
    rep.handle(huge, '2001:db8::1', 4000);
    rep.handle(small, '2001:db8::1', 4000);
    await waitFor('both at the IPv6 receiver', () => v6.got.length === 2);
    await waitFor('the drop to be counted', () => rep.counters.receivers[0]!.dropped['too-big'] === 1);
    await waitFor('the small one at the IPv4 receiver', () => v4.got.length === 1);
    assert.ok(v6.got[0]!.buf.equals(huge));
    assert.ok(v4.got[0]!.buf.equals(small));
    assert.equal(rep.counters.receivers[0]!.sent, 1);
    assert.match(problems.join('\n'), /too-big/);
  });

  it('-x: waits the delay after each send (blocking, as samplicator does)', async (t) => {
    const a = await udpReceiver();
    const b = await udpReceiver();
    const rep = await Replicator.open([await receiver(`127.0.0.1/${a.port}`), await receiver(`127.0.0.1/${b.port}`)], { plainSender, delayUs: 20_000, log: () => {} });
    t.after(async () => {
      await rep.close();
      await Promise.all([a.close(), b.close()]);
    });
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) rep.handle(Buffer.from(`d${i}`), '192.0.2.1', 1);
    const blocked = performance.now() - t0;
    assert.ok(blocked >= 6 * 20 - 5, `3 datagrams x 2 receivers x 20 ms: blocked ${blocked.toFixed(1)} ms`);
    await waitFor('copies', () => a.got.length === 3 && b.got.length === 3);
  });

  it('selects receivers by the source prefix of each datagram (config rules)', async (t) => {
    const { parseRelayConfig, resolveRules } = await import('../src/relay/index.js');
    const r1 = await udpReceiver();
    const r2 = await udpReceiver();
    const rules = await resolveRules(parseRelayConfig(`10.0.0.0/8: 127.0.0.1/${r1.port}\n[2001:db8::]/32: 127.0.0.1/${r2.port}\n`, 't.conf'));
    const rep = await Replicator.open([], { rules, plainSender, log: () => {} });
    t.after(async () => {
      await rep.close();
      await Promise.all([r1.close(), r2.close()]);
    });
    rep.handle(Buffer.from('a'), '10.9.8.7', 1);
    rep.handle(Buffer.from('b'), '::ffff:10.1.1.1', 1); // a dual-stack socket's view of an IPv4 exporter
    rep.handle(Buffer.from('c'), '2001:db8:1::1', 1);
    rep.handle(Buffer.from('d'), '192.0.2.1', 1);
    await waitFor('r1', () => r1.got.length === 2);
    await waitFor('r2', () => r2.got.length === 1);
    assert.deepEqual(r1.got.map((g) => g.buf.toString()), ['a', 'b']);
    assert.equal(r2.got[0]!.buf.toString(), 'c');
    assert.equal(rep.counters.unmatched, 1);
  });
});
}

describe('sluice relay (the command)', () => {
  it('relays from the config file by source address, and to command-line receivers everything', async (t) => {
    const all = await udpReceiver();
    const only7 = await udpReceiver();
    const net = await udpReceiver();
    const only8 = await udpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-relay-'));
    const conf = join(dir, 'relay.conf');
    writeFileSync(
      conf,
      `# test rules\n127.0.0.7: 127.0.0.1/${only7.port}\n127.0.0.0/255.255.255.0: 127.0.0.1/${net.port}   # both senders\n127.0.0.8/32: 127.0.0.1/${only8.port}\n`,
    );
    const relay = await startRelay(['-p', '0', '-s', '127.0.0.1', '-c', conf, `127.0.0.1/${all.port}`]);
    const s7 = await udpSender('127.0.0.7');
    const s8 = await udpSender('127.0.0.8');
    t.after(async () => {
      s7.close();
      s8.close();
      await relay.stop();
      await Promise.all([all.close(), only7.close(), net.close(), only8.close()]);
      rmSync(dir, { recursive: true, force: true });
    });
    const from7 = payloads(50).map((b) => Buffer.concat([Buffer.from('seven '), b]));
    const from8 = payloads(50).map((b) => Buffer.concat([Buffer.from('eight '), b]));
    for (let i = 0; i < 50; i++) {
      await s7.send(from7[i]!, relay.port, '127.0.0.1');
      await s8.send(from8[i]!, relay.port, '127.0.0.1');
      if (i % 10 === 9) await waitFor('the relay', () => all.got.length === 2 * (i + 1));
    }
    await waitFor('every receiver', () => all.got.length === 100 && only7.got.length === 50 && net.got.length === 100 && only8.got.length === 50);
    same(only7, from7);
    same(only8, from8);
    const interleaved = from7.flatMap((b, i) => [b, from8[i]!]);
    same(all, interleaved);
    same(net, interleaved);
    const { code, stderr } = await relay.stop();
    assert.equal(code, 0);
    assert.match(stderr, /stopped: received 100 datagrams/);
    assert.match(stderr, new RegExp(`127\\.0\\.0\\.1/${only8.port}: sent 50`));
  });

  it('prints one debug line per datagram with -d 1', async (t) => {
    const r = await udpReceiver();
    const relay = await startRelay(['-p', '0', '-s', '127.0.0.1', '-d', '1', `127.0.0.1/${r.port}/2`]);
    const s = await udpSender('127.0.0.1');
    t.after(async () => {
      s.close();
      await relay.stop();
      await r.close();
    });
    for (let i = 0; i < 3; i++) await s.send(Buffer.alloc(100 + i), relay.port, '127.0.0.1');
    await waitFor('debug lines', () => (relay.stderr().match(/bytes ->/g)?.length ?? 0) === 3);
    const lines = relay.stderr().split('\n').filter((l) => l.includes('bytes ->'));
    assert.match(lines[0]!, new RegExp(`^127\\.0\\.0\\.1 port ${s.port}, 100 bytes -> 127\\.0\\.0\\.1/${r.port}$`));
    assert.match(lines[1]!, /101 bytes -> .*\(skipped, 1 in 2\)/);
  });

  it('explains bad receivers and config files, and exits 2', async () => {
    const bad = await runRelayExpectingFailure(['-p', '0', '10.0.0.1/2055/0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /receiver "10\.0\.0\.1\/2055\/0", column 15: interval 0 is out of range/);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-relay-'));
    try {
      writeFileSync(join(dir, 'bad.conf'), '10.0.0.0/8: 127.0.0.1/2055\n10.0.0.0/40: 127.0.0.1/1\n');
      const conf = await runRelayExpectingFailure(['-p', '0', '-c', join(dir, 'bad.conf')]);
      assert.equal(conf.code, 2);
      assert.match(conf.stderr, /bad\.conf:2:10: prefix length 40 is longer than 32/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const none = await runRelayExpectingFailure(['-p', '0']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no receivers/);
  });

  it('fails at start with -S when the native addon is missing, saying how to build it', async () => {
    const r = await runRelayExpectingFailure(['-p', '0', '-s', '127.0.0.1', '-S', '127.0.0.1/9'], { SLUICE_NATIVE_ADDON: '/nonexistent/sluice_native.node' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs sluice's native addon/);
    assert.match(r.stderr, /npm run build:native/);
    // Without -S the addon is not needed at all.
    const plain = await startRelay(['-p', '0', '-s', '127.0.0.1', '127.0.0.1/9'], { SLUICE_NATIVE_ADDON: '/nonexistent/sluice_native.node' });
    assert.equal((await plain.stop()).code, 0);
  });

  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  const root = process.getuid?.() === 0;
  it('fails at start with -S without the raw-socket privilege, saying how to grant it', { skip: !root || !setpriv ? 'needs root and setpriv (util-linux) to drop CAP_NET_RAW' : false }, async () => {
    const r = await runRelayExpectingFailure(['-p', '0', '-s', '127.0.0.1', '127.0.0.1/9/1/S'], {}, ['setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /needs raw sockets/);
    assert.match(r.stderr, /setcap cap_net_raw\+ep/);
  });

  it('-f runs in the background and -m writes the pid file', async (t) => {
    const r = await udpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-relay-'));
    const pidFile = join(dir, 'relay.pid');
    const { startRelayDaemon } = await import('./helpers/relay-daemon.js');
    const d = await startRelayDaemon(['-p', '0', '-s', '127.0.0.1', '-f', '-m', pidFile, `127.0.0.1/${r.port}`]);
    t.after(async () => {
      if (d.pid !== undefined) {
        try {
          process.kill(d.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      await r.close();
      rmSync(dir, { recursive: true, force: true });
    });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(d.pid !== undefined && d.port !== undefined, d.stderr);
    const { readFileSync } = await import('node:fs');
    await waitFor('the pid file', () => {
      try {
        return Number(readFileSync(pidFile, 'utf8')) === d.pid;
      } catch {
        return false;
      }
    });
    const s = await udpSender('127.0.0.1');
    await s.send(Buffer.from('to the daemon'), d.port!, '127.0.0.1');
    await waitFor('the copy', () => r.got.length === 1);
    s.close();
    process.kill(d.pid!, 'SIGTERM');
    await waitFor('the daemon to stop', () => {
      try {
        process.kill(d.pid!, 0);
        return false;
      } catch {
        return true;
      }
    });
  });
});

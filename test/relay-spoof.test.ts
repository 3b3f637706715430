/**
 * sluice relay -S: spoofed copies keep the exporter's address and port (raw sockets, so root or
 * CAP_NET_RAW, and the native addon). IPv4 over loopback from 127.0.0.7, IPv6 over ::1, and in a
 * network namespace at MTU 1500: datagrams beyond the MTU fragmented by sluice and reassembled by
 * the receiving kernel byte for byte, IPv4 and IPv6 (from fd00::7).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseReceiver, Replicator, resolveReceiver } from '../src/relay/index.js';
import { ADDON_PATH } from '../src/sources/native-addon.js';
import { payloads, startRelay, udpReceiver, udpSender, waitFor, type TestReceiver } from './helpers/relay-udp.js';

const root = process.getuid?.() === 0;
const addon = existsSync(ADDON_PATH);
const skip = !root ? 'spoofing needs raw sockets: run the tests as root (CI does)' : !addon ? `the native addon is not built (${ADDON_PATH}): npm run build:native` : false;
if (skip !== false) console.log(`# relay-spoof tests skipped: ${skip}`);

const same = (got: TestReceiver, want: Buffer[]) => {
  assert.equal(got.got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(got.got[i]!.buf.equals(want[i]!), `datagram ${i} differs`);
};

describe('sluice relay -S (spoofing)', { skip }, () => {
  it('IPv4: the spoofed receiver sees the exporter 127.0.0.7 and its port; a /P receiver sees the relay', async (t) => {
    const spoofed = await udpReceiver();
    const plain = await udpReceiver();
    const relay = await startRelay(['-p', '0', '-s', '127.0.0.1', '-S', `127.0.0.1/${spoofed.port}`, `127.0.0.1/${plain.port}/P`]);
    const s = await udpSender('127.0.0.7');
    t.after(async () => {
      s.close();
      await relay.stop();
      await Promise.all([spoofed.close(), plain.close()]);
    });
    const data = payloads(200);
    for (let i = 0; i < data.length; i++) {
      await s.send(data[i]!, relay.port, '127.0.0.1');
      if (i % 20 === 19) await waitFor('copies', () => spoofed.got.length === i + 1 && plain.got.length === i + 1);
    }
    await waitFor('all copies', () => spoofed.got.length === 200 && plain.got.length === 200);
    same(spoofed, data);
    same(plain, data);
    assert.ok(spoofed.got.every((g) => g.address === '127.0.0.7' && g.port === s.port), `spoofed source ${spoofed.got[0]!.address}:${spoofed.got[0]!.port}`);
    assert.ok(plain.got.every((g) => g.address === '127.0.0.1' && g.port !== s.port));
    const { code, stderr } = await relay.stop();
    assert.equal(code, 0);
    assert.match(stderr, /1 spoofed/);
    assert.match(stderr, new RegExp(`127\\.0\\.0\\.1/${spoofed.port} \\(spoofed\\): sent 200`));
  });

  it('IPv4 with -n (zero UDP checksum), listening dual-stack (the exporter arrives as ::ffff:127.0.0.7)', async (t) => {
    const r = await udpReceiver();
    const relay = await startRelay(['-p', '0', '-S', '-n', `127.0.0.1/${r.port}`]);
    const s = await udpSender('127.0.0.7');
    t.after(async () => {
      s.close();
      await relay.stop();
      await r.close();
    });
    const data = payloads(50);
    for (const d of data) await s.send(d, relay.port, '127.0.0.1');
    await waitFor('copies', () => r.got.length === 50);
    same(r, data);
    assert.ok(r.got.every((g) => g.address === '127.0.0.7' && g.port === s.port));
  });

  it('IPv6 over ::1: the receiver sees the exporter\'s port, not the relay\'s; an IPv4 /S receiver counts family-mismatch', async (t) => {
    const r = await udpReceiver('::1');
    const v4 = await udpReceiver();
    const relay = await startRelay(['-p', '0', '-s', '::1', `[::1]/${r.port}/1/S`, `127.0.0.1/${v4.port}/S`]);
    const s = await udpSender('::1');
    t.after(async () => {
      s.close();
      await relay.stop();
      await Promise.all([r.close(), v4.close()]);
    });
    const data = payloads(100);
    for (let i = 0; i < data.length; i++) {
      await s.send(data[i]!, relay.port, '::1');
      if (i % 20 === 19) await waitFor('copies', () => r.got.length === i + 1);
    }
    await waitFor('all copies', () => r.got.length === 100);
    same(r, data);
    assert.ok(r.got.every((g) => g.address === '::1' && g.port === s.port), `source ${r.got[0]!.address}:${r.got[0]!.port}, sender port ${s.port}`);
    assert.equal(v4.got.length, 0);
    const { stderr } = await relay.stop();
    assert.match(stderr, /family-mismatch 100/);
  });

  const haveTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
  it('checksums as tshark sees them: IP and UDP checksums good, and UDP "not present" with -n', { skip: haveTshark ? false : 'needs tshark' }, async (t) => {
    const r = await udpReceiver();
    const cap = spawn('tshark', ['-i', 'lo', '-f', `udp dst port ${r.port}`, '-c', '4', '-l', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-e', 'udp.checksum.status', '-e', 'ip.checksum.status', '-e', 'ip.src'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    cap.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    cap.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const plain = await Replicator.open([await resolveReceiver(parseReceiver(`127.0.0.1/${r.port}/S`))], { log: () => {} });
    const zero = await Replicator.open([await resolveReceiver(parseReceiver(`127.0.0.1/${r.port}/S`))], { zeroChecksum: true, log: () => {} });
    t.after(async () => {
      cap.kill('SIGKILL');
      await Promise.all([plain.close(), zero.close(), r.close()]);
    });
    await waitFor('tshark to capture', () => /Capturing on/.test(err), 30_000);
    await new Promise((res) => setTimeout(res, 500));
    const odd = Buffer.from('an odd-length payload, 31 bytes'); // odd lengths exercise the checksum's last byte
    const big = Buffer.alloc(3001, 0x5a);
    plain.handle(odd, '127.0.0.7', 1111);
    plain.handle(big, '127.0.0.7', 1111);
    zero.handle(odd, '127.0.0.7', 2222);
    zero.handle(big, '127.0.0.7', 2222);
    await waitFor('the copies', () => r.got.length === 4);
    await waitFor('tshark to print 4 packets', () => out.trim().split('\n').length >= 4, 15_000);
    // tshark's status values: 1 = good, 3 = not present (zero UDP checksum).
    assert.deepEqual(out.trim().split('\n'), ['1\t1\t127.0.0.7', '1\t1\t127.0.0.7', '3\t1\t127.0.0.7', '3\t1\t127.0.0.7']);
  });

  const haveIp = spawnSync('ip', ['-V']).status === 0;
  it('in a network namespace at MTU 1500: fragments beyond the MTU, reassembled byte-identical, IPv4 and IPv6 (fd00::7)', { skip: haveIp ? false : 'needs iproute2 (ip netns)' }, async (t) => {
    const ns = `sluice-relay-${process.pid}`;
    const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
    const made = ip('netns', 'add', ns);
    if (made.status !== 0) {
      t.skip(`ip netns add failed: ${made.stderr.trim()}`);
      return;
    }
    t.after(() => {
      ip('netns', 'del', ns);
    });
    for (const cmd of [
      ['link', 'set', 'lo', 'mtu', '1500'],
      ['link', 'set', 'lo', 'up'],
      ['-6', 'addr', 'add', 'fd00::1/128', 'dev', 'lo', 'nodad'],
      ['-6', 'addr', 'add', 'fd00::7/128', 'dev', 'lo', 'nodad'],
    ]) {
      const r = ip('-n', ns, ...cmd);
      assert.equal(r.status, 0, `ip -n ${ns} ${cmd.join(' ')}: ${r.stderr}`);
    }
    const scenario = fileURLToPath(new URL('./helpers/relay-netns-scenario.ts', import.meta.url));
    const run = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', scenario], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      sizes: number[];
      sender4: number;
      sender6: number;
      v4: { address: string; port: number; length: number; identical: boolean }[];
      v6: { address: string; port: number; length: number; identical: boolean }[];
      counters: { sent: number }[];
      ipReasmOKs: number;
      ipFragCreates: number;
      ip6ReasmOKs: number;
      ip6FragCreates: number;
    };
    assert.deepEqual(out.v4.map((g) => g.length), out.sizes);
    assert.deepEqual(out.v6.map((g) => g.length), out.sizes);
    assert.ok(out.v4.every((g) => g.identical && g.address === '127.0.0.7' && g.port === out.sender4), JSON.stringify(out.v4));
    assert.ok(out.v6.every((g) => g.identical && g.address === 'fd00::7' && g.port === out.sender6), JSON.stringify(out.v6));
    // Sizes beyond 1472 (IPv4) / 1452 (IPv6) payload bytes need fragments: 3000, 1473, 8000, 65000 for
    // IPv4; 3000, 1472, 1473, 8000, 65000 for IPv6. The kernel reassembled them, and created none
    // itself: the fragments were sluice's.
    assert.equal(out.ipReasmOKs, 4, `IPv4 reassemblies ${out.ipReasmOKs}`);
    assert.equal(out.ip6ReasmOKs, 5, `IPv6 reassemblies ${out.ip6ReasmOKs}`);
    assert.equal(out.ipFragCreates, 0);
    assert.equal(out.ip6FragCreates, 0);
  });
});

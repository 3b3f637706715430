import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DropCapture, type DroppedDatagram } from '../../src/outputs/drop-capture.js';
import { readCapture } from '../../src/wire/pcap/read.js';

const hasTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
const T0 = 1_700_000_000_123;

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dropcap-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** tshark's fields, one row per frame. Port 2055 is decoded as NetFlow; udp.payload is the raw bytes either way. */
function tsharkFields(file: string, fields: readonly string[]): string[][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', '-o', 'udp.check_checksum:TRUE', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => l.split('|'));
}

const payload = (n: number, fill: number) => Buffer.alloc(n, fill);
const files = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort();

test(
  'datagrams are written with their exporter address and ports, and tshark reads them back',
  { skip: !hasTshark && 'tshark not installed' },
  withDir(async (dir) => {
    const cap = new DropCapture({ dir });
    const inputs: DroppedDatagram[] = [
      { payload: Buffer.from('000a0010deadbeef00000001000000ff', 'hex'), address: '192.0.2.7', port: 40001, localPort: 4739, receivedMs: T0 },
      { payload: payload(300, 0x5a), address: '2001:db8::9', port: 40002, localPort: 2055, receivedMs: T0 + 1000 },
      { payload: payload(17, 0x01), address: '::ffff:198.51.100.3', port: 40003, localPort: 6343, receivedMs: T0 + 2000 },
    ];
    for (const d of inputs) cap.capture(d);
    await cap.stop();
    assert.deepEqual(files(dir), ['drops-000001.pcap']);
    const rows = tsharkFields(join(dir, 'drops-000001.pcap'), ['frame.time_epoch', 'ip.src', 'ipv6.src', 'udp.srcport', 'udp.dstport', 'udp.payload', 'udp.checksum.status']);
    assert.equal(rows.length, 3);
    const want = [
      ['192.0.2.7', '', '40001', '4739'],
      ['', '2001:db8::9', '40002', '2055'],
      ['198.51.100.3', '', '40003', '6343'],
    ];
    rows.forEach((r, i) => {
      assert.deepEqual(r.slice(1, 5), want[i], `frame ${i + 1}`);
      assert.equal(r[5]!.replace(/:/g, ''), inputs[i]!.payload.toString('hex'), `payload of frame ${i + 1}`);
      assert.equal(Math.round(Number(r[0]) * 1000), inputs[i]!.receivedMs, `time of frame ${i + 1}`);
      assert.equal(r[6], '1', `UDP checksum of frame ${i + 1} is good`); // 0 bad, 1 good, 2 unverified
    });
    assert.deepEqual(cap.counters, { written: 3, bytes: statSync(join(dir, 'drops-000001.pcap')).size, files: 1, overflow: 0, failed: 0, stopped: 0, cut: 0, unaddressed: 0 });
  }),
);

test(
  'rotation: at most maxFiles files of at most maxFileBytes; the newest datagrams are the ones kept; a restart numbers on',
  withDir(async (dir) => {
    const maxFileBytes = 128 * 1024;
    const cap = new DropCapture({ dir, maxFileBytes, maxFiles: 3 });
    // 1400-byte payloads: 1442-byte frames (Ethernet 14, IPv4 20, UDP 8), 1458 bytes per pcap record.
    const perFile = Math.floor((maxFileBytes - 24) / 1458);
    assert.equal(perFile, 89);
    const n = 400;
    for (let i = 0; i < n; i++) {
      const p = payload(1400, i & 0xff);
      p.writeUInt32BE(i, 0);
      cap.capture({ payload: p, address: '192.0.2.1', port: 1000, localPort: 2055, receivedMs: T0 + i });
      if (i % 50 === 49) await cap.flush(); // the queue bound (4 MiB) is not what this test is about
    }
    await cap.stop();
    assert.equal(cap.counters.written, n);
    assert.equal(cap.counters.files, 5);
    const kept = files(dir);
    assert.deepEqual(kept, ['drops-000003.pcap', 'drops-000004.pcap', 'drops-000005.pcap']);
    const seen: number[] = [];
    for (const f of kept) {
      const buf = readFileSync(join(dir, f));
      assert.ok(buf.length <= maxFileBytes, `${f}: ${buf.length} bytes`);
      for (const fr of readCapture(buf)) seen.push(fr.data.readUInt32BE(14 + 20 + 8));
    }
    // Files 1 and 2 held 89 records each and were deleted: 178 .. 399 remain, in order.
    assert.deepEqual(seen, Array.from({ length: n - 2 * perFile }, (_, i) => 2 * perFile + i));

    const again = new DropCapture({ dir, maxFileBytes, maxFiles: 3 });
    again.capture({ payload: payload(10, 1), address: '192.0.2.1', port: 1, localPort: 2, receivedMs: T0 });
    await again.stop();
    assert.deepEqual(files(dir), ['drops-000004.pcap', 'drops-000005.pcap', 'drops-000006.pcap']);
  }),
);

test(
  'a full queue counts overflow instead of waiting',
  withDir(async (dir) => {
    const cap = new DropCapture({ dir, maxQueueBytes: 5000 });
    for (let i = 0; i < 10; i++) cap.capture({ payload: payload(1000, i), address: '192.0.2.1', port: 1, localPort: 2, receivedMs: T0 });
    await cap.stop();
    assert.ok(cap.counters.overflow > 0);
    assert.equal(cap.counters.written + cap.counters.overflow, 10);
    assert.equal(readCapture(readFileSync(join(dir, 'drops-000001.pcap'))).next().done, false);
  }),
);

test(
  'odd input never throws: no address, too long, bad time, after stop',
  withDir(async (dir) => {
    const cap = new DropCapture({ dir });
    cap.capture({ payload: payload(8, 1), address: 'kafka:topic', port: 0, localPort: 0, receivedMs: NaN });
    cap.capture({ payload: payload(70_000, 2), address: '192.0.2.1', port: 9, localPort: 9, receivedMs: -5 });
    cap.capture({ payload: payload(70_000, 3), address: '2001:db8::1', port: 9, localPort: 9, receivedMs: T0 });
    await cap.stop();
    cap.capture({ payload: payload(8, 4), address: '192.0.2.1', port: 9, localPort: 9, receivedMs: T0 });
    assert.equal(cap.counters.written, 3);
    assert.equal(cap.counters.unaddressed, 1);
    assert.equal(cap.counters.cut, 2);
    assert.equal(cap.counters.stopped, 1);
    const frames = [...readCapture(readFileSync(join(dir, 'drops-000001.pcap')))];
    assert.equal(frames.length, 3);
    // The cut datagrams keep their real length in the record header.
    assert.equal(frames[1]!.data.length, 14 + 20 + 8 + 65507);
    assert.equal(frames[1]!.origLength, 14 + 20 + 8 + 70_000);
    assert.equal(frames[2]!.origLength, 14 + 40 + 8 + 70_000);
  }),
);

test(
  'a capture that cannot write counts the datagrams as failed and pauses',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'blocker'), '');
    const warnings: string[] = [];
    let now = 0;
    const log = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_o: object, m?: string) => void warnings.push(m ?? '') };
    const cap = new DropCapture({ dir: join(dir, 'blocker', 'sub'), log, now: () => now });
    cap.capture({ payload: payload(8, 1), address: '192.0.2.1', port: 1, localPort: 2, receivedMs: T0 });
    await cap.flush();
    assert.equal(cap.counters.failed, 1);
    cap.capture({ payload: payload(8, 1), address: '192.0.2.1', port: 1, localPort: 2, receivedMs: T0 });
    assert.equal(cap.counters.failed, 2, 'within the pause: counted without touching the disk');
    now += 5000;
    cap.capture({ payload: payload(8, 1), address: '192.0.2.1', port: 1, localPort: 2, receivedMs: T0 });
    await cap.stop();
    assert.equal(cap.counters.failed, 3);
    assert.equal(cap.counters.written, 0);
    assert.equal(warnings.length, 1, 'logged once per minute, not per datagram');
  }),
);

test('options are checked when the capture is made', () => {
  assert.throws(() => new DropCapture({ dir: '/tmp/x', maxFileBytes: 1000 }), RangeError);
  assert.throws(() => new DropCapture({ dir: '/tmp/x', maxFiles: 0 }), RangeError);
  assert.throws(() => new DropCapture({ dir: '/tmp/x', prefix: '../escape' }), RangeError);
  assert.throws(() => new DropCapture({ dir: '/tmp/x', localAddress4: '::1' }), RangeError);
});

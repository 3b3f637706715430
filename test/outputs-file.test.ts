import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileOutput } from '../src/outputs/file.js';
import { strftimeUtc } from '../src/outputs/strftime.js';
import { parseOutputSpec } from '../src/outputs/spec.js';

const line = (i: number) => Buffer.from(`{"n":${i}}\n`);

/** Every file under dir, relative, sorted. */
function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p, base));
    else out.push(path.relative(base, p));
  }
  return out.sort();
}

test('strftime in UTC: %Y %m %d %H %M %S %j %%', () => {
  const ms = Date.UTC(2024, 11, 31, 23, 5, 9); // 2024 is a leap year: day 366
  assert.equal(strftimeUtc('/d/%Y/%m/%d/%H%M%S-%j-%%Y', ms), '/d/2024/12/31/230509-366-%Y');
  assert.equal(strftimeUtc('%j', Date.UTC(2025, 0, 1)), '001');
});

test('file output: aligned windows rotate by the clock, names from the window start, no temp file left', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 0, 2, 3, 4, 7); // 5 s windows at multiples of 5 s: inside 03:04:05
  const out = new FileOutput('file', { path: path.join(dir, '%Y/%m/%d/'), prefix: 'json.', timeWindow: 5, timeAlignment: true, compression: 'none', now: () => now, allowShortWindow: true });
  out.write(Buffer.concat([line(1), line(2)]));
  // While the window is open only the hidden temp file exists.
  const during = walk(dir);
  assert.equal(during.length, 1);
  assert.match(path.basename(during[0]!), /^\.json\.20260102030405\..*\.tmp$/);
  now += 3000; // 03:04:10: next window
  out.write(line(3));
  now += 1000;
  out.write(line(4));
  now += 10_000; // 03:04:21: a window later, idle: the timer (tick) closes the file without a write
  out.tick();
  await out.close();
  const files = walk(dir);
  assert.deepEqual(files, ['2026/01/02/json.20260102030405', '2026/01/02/json.20260102030410']);
  assert.equal(readFileSync(path.join(dir, files[0]!), 'utf8'), '{"n":1}\n{"n":2}\n');
  assert.equal(readFileSync(path.join(dir, files[1]!), 'utf8'), '{"n":3}\n{"n":4}\n');
  assert.equal(out.counters.written, 4);
  assert.equal(out.counters.dropped, 0);
});

test('file output: unaligned windows start at the first line; minute windows named YYYYmmddHHMM; same name twice gets a suffix', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 5, 1, 12, 0, 30);
  const out = new FileOutput('file', { path: dir, prefix: 'flows-', timeWindow: 60, timeAlignment: false, compression: 'none', now: () => now });
  out.write(line(1));
  now += 59_000; // 12:01:29 is still the window that began at 12:00:30
  out.write(line(2));
  now += 1000; // 12:01:30: new window, named 1201
  out.write(line(3));
  await out.close();
  assert.deepEqual(walk(dir), ['flows-202606011200', 'flows-202606011201']);
  assert.equal(readFileSync(path.join(dir, 'flows-202606011200'), 'utf8'), '{"n":1}\n{"n":2}\n');
  // A second collector run in the same window does not overwrite the first file.
  const again = new FileOutput('file', { path: dir, prefix: 'flows-', timeWindow: 60, timeAlignment: false, compression: 'none', now: () => Date.UTC(2026, 5, 1, 12, 0, 45) });
  again.write(line(9));
  await again.close();
  assert.deepEqual(walk(dir), ['flows-202606011200', 'flows-202606011200.1', 'flows-202606011201']);
});

test('file output: gzip files are complete on close and readable by gzip -dc', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-gz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 0, 1, 0, 0, 0);
  const out = new FileOutput('file', { path: dir, prefix: 'json.', timeWindow: 300, timeAlignment: true, compression: 'gzip', now: () => now });
  let expect1 = '';
  for (let i = 0; i < 5000; i++) {
    out.write(line(i));
    expect1 += line(i).toString();
  }
  now += 300_000;
  out.write(line(-1));
  await out.close();
  assert.deepEqual(walk(dir), ['json.202601010000.gz', 'json.202601010005.gz']);
  const r1 = spawnSync('gzip', ['-dc', path.join(dir, 'json.202601010000.gz')], { encoding: 'utf8' });
  assert.equal(r1.status, 0, r1.stderr);
  assert.equal(r1.stdout, expect1);
  const r2 = spawnSync('gzip', ['-dc', path.join(dir, 'json.202601010005.gz')], { encoding: 'utf8' });
  assert.equal(r2.stdout, '{"n":-1}\n');
});

for (const [codec, tool, ext] of [['lz4', 'lz4', '.lz4'], ['zstd', 'zstd', '.zst']] as const) {
  test(`file output: ${codec} files are complete on close and readable by ${tool} -dc (several frames)`, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), `sluice-${codec}-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    let now = Date.UTC(2026, 0, 1, 0, 0, 0);
    const out = new FileOutput('file', { path: dir, prefix: 'json.', timeWindow: 300, timeAlignment: true, compression: codec, now: () => now });
    // Past the 1 MiB chunk twice: the file holds several frames, read back as one stream.
    const parts: Buffer[] = [];
    for (let i = 0; i < 250_000; i++) {
      const b = line(i);
      out.write(b);
      parts.push(b);
    }
    now += 300_000;
    out.write(line(-1));
    await out.close();
    assert.deepEqual(walk(dir), [`json.202601010000${ext}`, `json.202601010005${ext}`]);
    const r1 = spawnSync(tool, ['-dc', path.join(dir, `json.202601010000${ext}`)], { maxBuffer: 64 << 20 });
    assert.equal(r1.status, 0, r1.stderr?.toString());
    assert.ok(r1.stdout.equals(Buffer.concat(parts)), `${tool} -dc output differs (${r1.stdout.length} bytes)`);
    const r2 = spawnSync(tool, ['-dc', path.join(dir, `json.202601010005${ext}`)], { encoding: 'utf8' });
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(r2.stdout, '{"n":-1}\n');
    assert.equal(out.counters.dropped, 0);
  });
}

test('--output file: parsing, defaults, errors naming the flag and the bad part', () => {
  const s = parseOutputSpec('file:/var/lib/sluice/%Y/%m/%d/?prefix=x.&timeWindow=600&timeAlignment=no&compression=gzip&format=json,timestamp=unix');
  assert.equal(s.kind, 'file');
  if (s.kind !== 'file') return;
  assert.equal(s.path, '/var/lib/sluice/%Y/%m/%d/');
  assert.equal(s.prefix, 'x.');
  assert.equal(s.timeWindow, 600);
  assert.equal(s.timeAlignment, false);
  assert.equal(s.compression, 'gzip');
  assert.deepEqual(s.format, { timestamp: 'unix' });
  const d = parseOutputSpec('file:/tmp/x');
  assert.deepEqual(d.kind === 'file' && [d.prefix, d.timeWindow, d.timeAlignment, d.compression], ['json.', 300, true, 'none']);
  assert.throws(() => parseOutputSpec('file:/tmp/?timeWindow=10'), /--output file:\/tmp\/\?timeWindow=10: timeWindow must be .* at least 60/);
  assert.deepEqual(['lz4', 'zstd'].map((c) => { const x = parseOutputSpec(`file:/tmp/?compression=${c}`); return x.kind === 'file' && x.compression; }), ['lz4', 'zstd']);
  assert.throws(() => parseOutputSpec('file:/tmp/?compression=bz2'), /compression must be none\|gzip\|lz4\|zstd, not "bz2"/);
  assert.throws(() => parseOutputSpec('file:/tmp/%Q/'), /unsupported strftime escape "%Q"/);
  assert.throws(() => parseOutputSpec('file:/tmp/?bogus=1'), /unknown option "bogus" for file/);
  assert.throws(() => parseOutputSpec('file:/tmp/?format=json,timestamp=iso'), /--output .*: format: timestamp must be one of formatted\|unix/);
  assert.throws(() => parseOutputSpec('ftp://x'), /--output ftp:\/\/x: unknown output "ftp:\/\/x"/);
  assert.throws(() => parseOutputSpec('tcp://:9000'), /needs a host/);
  const k = parseOutputSpec('kafka://b1:9092,b2:9093/flows?partition=3&compression.codec=lz4&blocking=yes');
  assert.deepEqual(k.kind === 'kafka' && k.kafka, { brokers: ['b1:9092', 'b2:9093'], topic: 'flows', partition: 3, properties: { 'compression.codec': 'lz4' }, blocking: true });
  const packed = parseOutputSpec('kafka://b1:9092/flows?recordsPerMessage=100');
  assert.equal(packed.kind === 'kafka' && packed.kafka.recordsPerMessage, 100);
  assert.throws(() => parseOutputSpec('kafka://b1:9092/flows?recordsPerMessage=0'), /recordsPerMessage must be an integer in 1\.\.1000000, not "0"/);
  const srv = parseOutputSpec('tcp-server://:8000?blocking=yes');
  assert.deepEqual(srv.kind === 'server' && [srv.host, srv.port, srv.blocking], ['', 8000, true]);
});

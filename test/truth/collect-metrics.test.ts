/**
 * collect's truth per exporter, end to end: /metrics scraped and parsed (the names are an
 * interface), sequence loss counted from a stream with a gap, drops by reason, templates and the
 * export-delay histogram; SIGUSR1 logs the exporters; --capture-drops writes the bad datagrams to a
 * pcap that tshark reads back with the exporter's address and port.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { buildIpfixStream } from '../../bench/ipfix-stream.js';
import { freeUdpPort, sleep, startCollector } from '../helpers/collector.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The Prometheus text exposition format, as a scraper reads it (comments skipped, labels parsed). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const sum = (s: Sample[], name: string, where: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);

test('/metrics, SIGUSR1 and --capture-drops of a running collect', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const metricsPort = await freeUdpPort();
  const c = await startCollector({ extraArgs: ['--workers', '1', '--metrics', `127.0.0.1:${metricsPort}`, '--capture-drops', join(dir, 'drops.pcap')], keepStdout: false });
  t.after(() => c.stop(2000));
  await c.waitForLog('metrics served on', 10_000);

  // 1 template message, then 60 data messages of 25 records with messages 20..29 left out: a gap of 250 records.
  const stream = buildIpfixStream(61, 25, 0x3e7);
  // The bench stream numbers its data from 0 although its first message carries one options data
  // record, which RFC 7011 counts: renumbered from 1 here, so the only gap is the one left out.
  const numbered = stream.datagrams.map((d, i) => {
    const b = Buffer.from(d);
    if (i > 0) b.writeUInt32BE(d.readUInt32BE(8) + 1, 8);
    return b;
  });
  const sent = [numbered[0]!, ...numbered.slice(1, 21), ...numbered.slice(31, 61)];
  const garbage = [Buffer.from('not a flow export at all'), Buffer.from([0, 9, 0, 1, 2, 3])];
  const s = dgram.createSocket('udp4');
  const from = await freeUdpPort();
  await new Promise<void>((r) => s.bind(from, '127.0.0.1', r));
  for (const d of [...sent, ...garbage]) await new Promise<void>((r, j) => s.send(d, c.port, '127.0.0.1', (e) => (e ? j(e) : r())));
  s.close();

  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  let samples: Sample[] = [];
  for (let i = 0; i < 40; i++) {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    samples = parseExposition(await res.text());
    if (sum(samples, 'sluice_templates') > 0 && sum(samples, 'sluice_drops_total') >= 2) break;
    await sleep(500);
  }
  const ex = { exporter: '127.0.0.1' };
  assert.equal(sum(samples, 'sluice_datagrams_total', { ...ex, protocol: 'ipfix' }), sent.length);
  assert.equal(sum(samples, 'sluice_datagrams_total', ex), sent.length + garbage.length, 'every datagram, whatever it held');
  assert.equal(sum(samples, 'sluice_records_total', { ...ex, kind: 'flow' }), 50 * 25);
  assert.equal(sum(samples, 'sluice_sequence_lost_total', { ...ex, unit: 'records' }), 250, 'the gap, in records (IPFIX counts records)');
  assert.equal(sum(samples, 'sluice_sequence_resets_total'), 0);
  assert.equal(sum(samples, 'sluice_drops_total', ex), 2, 'the two garbage datagrams');
  assert.equal(sum(samples, 'sluice_templates', ex), 3, 'two data templates and one options template');
  assert.equal(sum(samples, 'sluice_sampling_rate', { ...ex, sampler: 'domain' }), 1, 'softflowd-style options: 1 in 1');
  assert.equal(sum(samples, 'sluice_export_delay_seconds_count'), 50 * 25, 'one delay per flow record');
  assert.ok(samples.some((x) => x.name === 'sluice_export_delay_seconds_bucket' && x.labels.le === '+Inf'));
  assert.ok(samples.some((x) => x.name === 'sluice_exporter_clock_skew_seconds' && x.labels.exporter === '127.0.0.1'));
  assert.ok(samples.some((x) => x.name === 'process_cpu_seconds_total'), 'the process defaults');
  assert.ok(samples.some((x) => x.name === 'sluice_exporter_health_total' && x.labels.check === 'exported-late'), 'the stream is from 2024: every export is late');

  process.kill(c.pid, 'SIGUSR1');
  await c.waitForLog('exporter 127.0.0.1: ', 5000);
  const stopped = await c.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /exporter 127\.0\.0\.1: 53 datagrams, 1250 flow records; 250 records lost in domain 0/);

  const pcaps = readdirSync(dir).filter((f) => f.startsWith('drops') && f.endsWith('.pcap'));
  assert.equal(pcaps.length, 1, `one capture file: ${pcaps.join(' ')}`);
  const r = spawnSync('tshark', ['-r', join(dir, pcaps[0]!), '-T', 'fields', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'data.data'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(
    rows.map(([ip, sp, dp]) => [ip, Number(sp), Number(dp)]),
    garbage.map(() => ['127.0.0.1', from, c.port]),
    'each dropped datagram with its exporter address and ports',
  );
  assert.equal(rows[0]![3], garbage[0]!.toString('hex'));
});

/**
 * `sluice probe` command line: clear errors for impossible combinations, and --realtime pacing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethernetIpv4Udp } from '../src/wire/packet/build.js';
import { writePcap } from '../src/wire/pcap/write.js';
import { DatagramSink, runProbeCli } from './helpers/probe.js';
import { probeCommand } from '../src/cli/probe.js';

test('probe rejects impossible option combinations with a clear message', async () => {
  const cases: [string[], RegExp][] = [
    [['-c', '127.0.0.1:9'], /exactly one of --pcap FILE or --interface NAME/],
    [['--pcap', 'x.pcap'], /at least one --collector/],
    [['--pcap', 'x.pcap', '-c', '127.0.0.1:9', '-V', '9', '--transport', 'tcp'], /--transport tcp is for IPFIX/],
    [['--pcap', 'x.pcap', '-c', '127.0.0.1:9', '-V', '5', '--biflow'], /--biflow needs IPFIX/],
    [['--pcap', 'x.pcap', '-c', 'nohostport'], /is not host:port/],
    [['--pcap', 'x.pcap', '-c', '127.0.0.1:9', '--sampling', '0'], /must be an integer from 1/],
  ];
  for (const [args, msg] of cases) {
    // In-process: the command's own parser and checks, with commander's exit turned into a throw.
    let err = '';
    const cmd = probeCommand().exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
    await assert.rejects(cmd.parseAsync(args, { from: 'user' }), (e: Error) => {
      assert.match(`${e.message}\n${err}`, msg, args.join(' '));
      return true;
    });
  }
});

test('--realtime replays a capture at its recorded pace (never faster)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-probe-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = 1_704_067_200_000;
  const frames = [0, 800, 1600, 2400].map((dt, i) => ({ tsMs: t0 + dt, data: ethernetIpv4Udp({ src: '192.0.2.1', dst: '198.51.100.1', srcPort: 1000 + i, dstPort: 53, payload: Buffer.alloc(20) }) }));
  const path = join(dir, 'rt.pcap');
  writeFileSync(path, writePcap(frames));
  const sink = await DatagramSink.open();
  t.after(() => sink.close());
  const started = Date.now();
  const r = await runProbeCli(['--pcap', path, '--realtime', '-c', `127.0.0.1:${sink.port}`, '--inactive-timeout', '0.3']);
  assert.equal(r.code, 0, r.stderr);
  await sink.waitFor(2, 300);
  // The capture spans 2.4 s; a file-speed run exports everything at once.
  const times = sink.datagrams.map((d) => d.tsMs);
  assert.ok(Date.now() - started >= 2400, 'finished faster than the capture was recorded');
  // With a 0.3 s idle timeout, flows expire (and are sent, at most a second later) while the replay runs.
  assert.ok(times.length >= 2, `datagrams: ${times.length}`);
  assert.ok(times.at(-1)! - times[0]! >= 1000, `export spread ${times.at(-1)! - times[0]!} ms: not paced`);
  assert.match(r.stderr, /flows 4 \(idle \d, active 0, end of flow 0, forced \d/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseCollectConfig } from '../src/collect/config.js';
import { encodeNetflow5 } from '../src/wire/encode/ipfix.js';
import { Collector, runSluice } from './helpers/cli.js';

const problems = (text: string): string[] => {
  try {
    parseCollectConfig(text, 'c.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
};

test('config: listeners, command-wide format and outputs with their defaults', () => {
  const c = parseCollectConfig(
    [
      'listen: [udp://:2055, "tcp://[::1]:4739"]',
      'format: { timestamp: unix, ignoreUnknown: no }',
      'outputs:',
      '  - type: print',
      '  - type: file',
      '    path: /var/lib/sluice/%Y/%m/%d/',
      '    compression: gzip',
      '    format: { protocol: raw }',
      '  - type: server',
      '    port: 8000',
      '  - type: send',
      '    host: 127.0.0.1',
      '    port: 9000',
      '    protocol: udp',
      '  - type: kafka',
      '    brokers: "127.0.0.1:9092,127.0.0.2:9092"',
      '    topic: flows',
      '    partition: 2',
      '    properties: { compression.codec: gzip, linger.ms: 10 }',
      '',
    ].join('\n'),
    'c.yaml',
  );
  assert.deepEqual(c.listen, ['udp://:2055', 'tcp://[::1]:4739']);
  assert.deepEqual(c.format, { timestamp: 'unix', ignoreUnknown: false });
  const [print, file, server, send, kafka] = c.outputs!;
  assert.equal(print!.kind, 'print');
  assert.deepEqual({ ...file }, { kind: 'file', name: 'outputs[1] (file)', format: { protocol: 'raw' }, path: '/var/lib/sluice/%Y/%m/%d/', prefix: 'json.', timeWindow: 300, timeAlignment: true, compression: 'gzip' });
  assert.deepEqual({ ...server }, { kind: 'server', name: 'outputs[2] (server)', format: undefined, host: '', port: 8000, blocking: false });
  assert.equal(send!.kind === 'send' && send.protocol, 'udp');
  assert.ok(kafka!.kind === 'kafka');
  assert.deepEqual(kafka.kafka, { brokers: ['127.0.0.1:9092', '127.0.0.2:9092'], topic: 'flows', partition: 2, recordsPerMessage: 1, blocking: false, properties: { 'compression.codec': 'gzip', 'linger.ms': '10' } });
});

test('config errors name the key path and its line:column; every problem is listed', () => {
  const p = problems(['outputs:', '  - type: file', '    paht: /tmp', '  - type: send', '    host: h', '    port: 99999', 'formt: {}', ''].join('\n'));
  // An unknown key is reported at the key itself (its own line), not at the enclosing map.
  assert.ok(p.some((x) => x.startsWith('c.yaml:3:5: outputs.0.paht') && x.includes('unknown key')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('c.yaml:6:11: outputs.1.port')), p.join('\n'));
  assert.ok(p.some((x) => x.includes('formt')), p.join('\n'));
  const bad = problems('listen: [udp://:2055, "http://x:1"]\n');
  assert.ok(bad[0]!.startsWith('c.yaml:1:23: listen.1'), bad.join('\n'));
  const enumErr = problems('format:\n  timestamp: iso\n');
  assert.ok(enumErr[0]!.startsWith('c.yaml:2:14: format.timestamp'), enumErr.join('\n'));
  const syntax = problems('outputs:\n  - type: print\n   bad: [\n');
  assert.match(syntax[0]!, /^c\.yaml:\d+:\d+: /);
});

test('sluice collect --config: outputs with their own formats; a broken file stops before anything runs', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, 'sluice.yaml');
  writeFileSync(
    cfg,
    ['format: { timestamp: unix }', 'outputs:', '  - type: print', '  - type: file', `    path: ${dir}/out/`, '    format: { protocol: raw }', ''].join('\n'),
  );
  const c = await Collector.start(['--config', cfg, '--listen', 'udp://127.0.0.1:0', '--workers', '0'], 1);
  t.after(() => c.stop());
  const s = dgram.createSocket('udp4');
  const pkt = encodeNetflow5({ sysUpTimeMs: 10_000, unixSecs: 1_700_000_000, sequence: 1 }, [
    { src: '10.1.1.1', dst: '10.2.2.2', packets: 3, octets: 300, firstMs: 5000, lastMs: 9000, srcPort: 1234, dstPort: 443, protocol: 6 },
  ]);
  await new Promise<void>((r, j) => s.send(pkt, c.ports[0]!, '127.0.0.1', (e) => (e ? j(e) : r())));
  s.close();
  await c.waitForLines(1);
  assert.equal(await c.stop(), 0);
  const printed = c.lines();
  assert.equal(printed.length, 1);
  assert.equal(printed[0]!['iana:flowEndMilliseconds'], 1_699_999_999_000);
  assert.equal(printed[0]!['iana:protocolIdentifier'], 'TCP');
  const files = readdirSync(path.join(dir, 'out')).filter((f) => !f.startsWith('.'));
  assert.equal(files.length, 1, String(files));
  const fromFile = JSON.parse(readFileSync(path.join(dir, 'out', files[0]!), 'utf8').trim()) as Record<string, unknown>;
  assert.equal(fromFile['iana:protocolIdentifier'], 6);
  assert.equal(fromFile['iana:flowEndMilliseconds'], 1_699_999_999_000);

  writeFileSync(cfg, 'outputs:\n  - type: fiel\n');
  const r = await runSluice(['collect', '--config', cfg, '--listen', 'udp://127.0.0.1:0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /sluice\.yaml:2:11: outputs\.0\.type: Invalid discriminator/);
});

test('config: the store output and sampling rates per exporter prefix, checked where they stand', () => {
  const c = parseCollectConfig(
    ['outputs:', '  - type: store', '    path: /var/lib/sluice', '    flush: 2s', '    maxAge: 30d', '    maxSize: 20G', '  - type: print', 'sampling:', '  defaults: [{ prefix: "::/0", rate: 1000 }]', '  overrides: [{ prefix: 192.0.2.0/24, rate: 512 }]', ''].join('\n'),
    'c.yaml',
  );
  assert.deepEqual(c.store, { dir: '/var/lib/sluice', flushIntervalMs: 2000, maxAgeMs: 30 * 86_400_000, maxBytes: 20 * 1024 ** 3 });
  assert.deepEqual(c.outputs?.map((o) => o.kind), ['print'], 'the store is not a JSON output');
  assert.deepEqual(c.sampling?.overrides, [{ prefix: '192.0.2.0/24', rate: 512 }]);
  const bad = (text: string) => {
    try {
      parseCollectConfig(text, 'c.yaml');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems.join('\n');
    }
    return '';
  };
  assert.match(bad('sampling:\n  overrides: [{ prefix: 192.0.2.300/24, rate: 512 }]\n'), /c\.yaml:2:25: sampling: overrides\[0\]\.prefix: "192\.0\.2\.300\/24" is not an address or prefix/);
  assert.match(bad('outputs:\n  - type: store\n    path: /a\n  - type: store\n    path: /b\n'), /outputs\.1: one store per process/);
  assert.match(bad('outputs:\n  - type: store\n    path: /a\n    maxAge: a week\n'), /maxAge.*expected a duration such as 30s, 5m, 12h or 30d/);
});

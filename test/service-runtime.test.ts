/**
 * The service runtime with a recording DeliveryPipeline (the delivery side is built separately):
 * udp/tcp connectors on loopback with remote_addrs allowlists, binary and text parsers, --debug
 * record lines, metrics on /metrics, the stop order, and raw replication (forward_to, relays).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseServiceConfig } from '../src/service/config.js';
import { ServiceRuntime } from '../src/service/runtime.js';
import { flowKeys } from '../src/pipeline/flow-fields.js';
import type { Log } from '../src/model/contracts.js';
import type { DeliveryOptions, DeliveryPipeline } from '../src/outputs/upload/delivery.js';
import type { FlowBatch } from '../src/wire/batch.js';
import { encodeNetflow5, IpfixMessageBuilder, type EncTemplate } from '../src/wire/encode/ipfix.js';
import { runSluice } from './helpers/cli.js';

class RecordingDelivery implements DeliveryPipeline {
  readonly batches: FlowBatch[] = [];
  readonly events: string[] = [];
  opts: DeliveryOptions | undefined;
  push(b: FlowBatch): void {
    this.batches.push(b);
  }
  async start(): Promise<void> {
    this.events.push('start');
  }
  async stop(): Promise<void> {
    this.events.push(`stop after ${this.records()} records`);
  }
  records(): number {
    return this.batches.reduce((n, b) => n + b.count, 0);
  }
}

class MemoryLog implements Log {
  readonly lines: Array<{ level: string; msg: string; obj: object }> = [];
  debug(obj: object, msg = ''): void {
    this.lines.push({ level: 'debug', msg, obj });
  }
  info(obj: object, msg = ''): void {
    this.lines.push({ level: 'info', msg, obj });
  }
  warn(obj: object, msg = ''): void {
    this.lines.push({ level: 'warn', msg, obj });
  }
  error(obj: object, msg = ''): void {
    this.lines.push({ level: 'error', msg, obj });
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.msg}`).join('\n');
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sendUdp(from: string, port: number, payload: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, from, () => s.send(payload, port, '127.0.0.1', (err) => (s.close(), err ? reject(err) : resolve())));
  });
}

/** Connects from `from`, writes `text` and waits for the connection to close (a refused one is closed by sluice). */
function sendTcp(from: string, port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => sock.end(text));
    sock.on('error', () => {}); // a refused connection may be reset
    sock.on('close', () => resolve());
  });
}

const v5 = (src: string, dstPort: number) =>
  encodeNetflow5({ sysUpTimeMs: 10_000, unixSecs: 1_700_000_000, sequence: 1 }, [{ src, dst: '10.2.2.2', packets: 3, octets: 300, firstMs: 5000, lastMs: 9000, srcPort: 1234, dstPort, protocol: 6 }]);

function config(dir: string, extra = ''): string {
  return [
    'pce_addr: pce.example.com:8443',
    'api_key: "key1 secret1"',
    `data_directory: ${dir}`,
    'metrics_print_seconds: 15',
    'metrics: { listen: "127.0.0.1:0" }',
    extra,
    'consumers:',
    '  - name: nf',
    '    parser: { type: netflow }',
    '    connectors:',
    '      - type: udp',
    '        properties: { ports: "0", remote_addrs: "127.0.0.2, 10.0.0.0/8" }',
    '  - name: syslog',
    '    parser: { type: text, properties: { src_ip: sip, dst_ip: dip, dst_port: dport, protocol: proto } }',
    '    connectors:',
    '      - type: tcp',
    '        properties: { ports: "0", remote_addrs: [127.0.0.3] }',
    '      - type: udp',
    '        properties: { ports: "0" }',
    '',
  ].join('\n');
}

test('runtime: allowlists drop and count outsiders; binary and text consumers feed the delivery; /metrics; stop drains first', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = parseServiceConfig(config(dir), 'c.yaml');
  const delivery = new RecordingDelivery();
  const log = new MemoryLog();
  const rt = new ServiceRuntime(cfg, {
    createDelivery: (o) => {
      delivery.opts = o;
      return delivery;
    },
    log,
    debug: true,
    metricsPrintMs: 200,
  });
  await rt.start();
  t.after(() => rt.stop());
  assert.deepEqual(delivery.events, ['start']);
  assert.equal(delivery.opts?.pce?.secret, 'secret1');
  assert.equal(delivery.opts?.aggregationMinutes, 10);
  assert.equal(delivery.opts?.metrics, rt.metrics);
  const [nfPort, tcpPort, udpPort] = rt.listening.map((l) => l.port);
  assert.deepEqual(rt.listening.map((l) => `${l.consumer}/${l.transport}`), ['nf/udp', 'syslog/tcp', 'syslog/udp']);

  await sendUdp('127.0.0.1', nfPort!, v5('10.9.9.9', 1)); // not allowed
  await sendUdp('127.0.0.2', nfPort!, v5('10.1.1.1', 443)); // allowed
  await sendTcp('127.0.0.1', tcpPort!, 'sip=10.5.0.1 dip=10.5.0.2 dport=22 proto=tcp\n');
  await sendTcp('127.0.0.3', tcpPort!, 'sip=10.6.0.1 dip=10.6.0.2 dport=22 proto=tcp\nnot a flow\nsip=10.6.0.3 dip=10.6.0.4 dport=53 proto=udp');
  await sendUdp('127.0.0.1', udpPort!, 'sip=10.7.0.1 dip=10.7.0.2 dport=443 proto=6\n');
  await until('4 records', () => delivery.records() >= 4);

  const keys = delivery.batches.flatMap(flowKeys).map((k) => `${k.src}>${k.dst}:${k.dstPort}/${k.protocol}`).sort();
  assert.deepEqual(keys, ['10.1.1.1>10.2.2.2:443/6', '10.6.0.1>10.6.0.2:22/6', '10.6.0.3>10.6.0.4:53/17', '10.7.0.1>10.7.0.2:443/6']);
  assert.ok(!keys.some((k) => k.startsWith('10.9.') || k.startsWith('10.5.')), 'outsiders never reach the delivery');

  const text = await (await fetch(rt.metricsUrl!)).text();
  assert.match(text, /sluice_input_dropped_total\{consumer="nf",reason="not-allowed"\} 1/);
  assert.match(text, /sluice_input_dropped_total\{consumer="syslog",reason="not-allowed"\} 1/);
  assert.match(text, /sluice_input_dropped_total\{consumer="syslog",reason="unparsed-missing-address"\} 1/);
  assert.match(text, /sluice_records_total\{consumer="nf",protocol="netflow5"\} 1/);
  assert.match(text, /sluice_records_total\{consumer="syslog",protocol="text"\} 3/);
  assert.match(rt.metricsUrl!, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

  const story = log.text();
  assert.match(story, /consumer nf started: netflow parser/);
  assert.match(story, new RegExp(`consumer nf: listening on udp port ${nfPort} \\(remote_addrs: 2 entries\\)`));
  assert.match(story, /reporting interval: flows aggregated every 10 min to PCE https:\/\/pce\.example\.com:8443 org 1; metrics printed every 15 s/);
  assert.match(story, /not in remote_addrs/);
  assert.match(story, /debug consumer syslog: line from 127\.0\.0\.3 not parsed \(missing-address\): not a flow/);
  const rec = log.lines.find((l) => l.msg === 'record' && (l.obj as { src?: string }).src === '10.1.1.1');
  assert.deepEqual(rec?.obj, { consumer: 'nf', exporter: '127.0.0.2', src: '10.1.1.1', dst: '10.2.2.2', srcPort: 1234, dstPort: 443, protocol: 'TCP' });
  assert.ok(!story.includes('secret1'), 'the secret is never logged');
  assert.match(await rt.metricsSummary(), /sluice_received_total\{consumer=nf,connector=udp\}=1/);
  await until('a periodic metrics line', () => log.lines.some((l) => l.level === 'info' && /^metrics: .*sluice_records_total\{consumer=syslog,protocol=text\}=3/.test(l.msg)));

  await rt.stop();
  assert.deepEqual(delivery.events, ['start', 'stop after 4 records']);
  assert.match(log.text(), /stopped; .*sluice_records_total/);
  await assert.rejects(fetch(rt.metricsUrl!), 'the metrics server is closed');
});

/** A UDP receiver on loopback that keeps every datagram it gets, with its source. */
async function receiver(t: { after(fn: () => unknown): void }): Promise<{ port: number; got: Array<{ data: Buffer; from: string }> }> {
  const sock = dgram.createSocket('udp4');
  const got: Array<{ data: Buffer; from: string }> = [];
  sock.on('message', (data, r) => got.push({ data, from: r.address }));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.after(() => sock.close());
  return { port: (sock.address() as { port: number }).port, got };
}

test('runtime: forward_to replicates what a consumer accepts, relays replicate without decoding; counters on /metrics', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c] = [await receiver(t), await receiver(t), await receiver(t)];
  const text = config(dir, `relays: [{ name: mirror, listen: ["udp://127.0.0.1:0"], receivers: ["127.0.0.1/${c.port}"] }]`).replace(
    "  - name: nf\n    parser: { type: netflow }\n",
    `  - name: nf\n    parser: { type: netflow }\n    forward_to: ["127.0.0.1/${a.port}", "127.0.0.1/${b.port}/2"]\n`,
  );
  assert.match(text, /forward_to/);
  const cfg = parseServiceConfig(text, 'c.yaml');
  const delivery = new RecordingDelivery();
  const log = new MemoryLog();
  const rt = new ServiceRuntime(cfg, { createDelivery: () => delivery, log });
  await rt.start();
  t.after(() => rt.stop());
  const nf = rt.listening.find((l) => l.consumer === 'nf')!.port;
  const mirror = rt.listening.find((l) => l.consumer === 'relay mirror')!.port;
  const sent: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const d = v5(`10.1.1.${i + 1}`, 443);
    sent.push(d);
    await sendUdp('127.0.0.2', nf, d);
  }
  await sendUdp('127.0.0.1', nf, v5('10.9.9.9', 1)); // outside remote_addrs: neither decoded nor forwarded
  for (let i = 0; i < 4; i++) await sendUdp('127.0.0.1', mirror, `not a flow ${i}`);
  await until('copies', () => a.got.length >= 10 && b.got.length >= 5 && c.got.length >= 4 && delivery.records() >= 10);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(a.got.map((g) => g.data), sent, 'every accepted datagram, byte-identical, in order');
  assert.deepEqual(b.got.map((g) => g.data), sent.filter((_, i) => i % 2 === 0), 'interval 2: every second datagram');
  assert.deepEqual(c.got.map((g) => g.data.toString()), ['not a flow 0', 'not a flow 1', 'not a flow 2', 'not a flow 3']);
  assert.equal(delivery.records(), 10, 'forwarding does not take anything from decoding');
  const metrics = await (await fetch(rt.metricsUrl!)).text();
  assert.match(metrics, new RegExp(`sluice_relay_sent_datagrams\\{relay="forward_to of consumer nf",receiver="127.0.0.1/${a.port}"\\} 10`));
  assert.match(metrics, new RegExp(`sluice_relay_sent_datagrams\\{relay="forward_to of consumer nf",receiver="127.0.0.1/${b.port}/2"\\} 5`));
  assert.match(metrics, new RegExp(`sluice_relay_sent_datagrams\\{relay="relay mirror",receiver="127.0.0.1/${c.port}"\\} 4`));
  await rt.stop();
  assert.match(log.text(), new RegExp(`relay mirror: .*127.0.0.1/${c.port}`));
});

test('sluice run: a spoofing receiver without the addon stops the start with what is missing; nothing listens', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, config(dir, 'relays: [{ listen: ["udp://127.0.0.1:0"], receivers: ["127.0.0.1/9/S"] }]').replace('metrics: { listen: "127.0.0.1:0" }', ''));
  // The addon path is overridable, so "not built" can be shown even where it is built and we are root.
  const r = await runSluice(['run', '--config', file], 60_000, { ...process.env, SLUICE_NATIVE_ADDON: path.join(dir, 'missing.node') });
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /relay relays\[0\]: .*addon/i);
  assert.doesNotMatch(r.stderr + r.stdout, /listening on udp port/);
});

test('runtime: templates survive a restart of the service (data_directory/state), as collect --state', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rt-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const free = () => new Promise<number>((r) => { const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const port = await free();
  const from = await free();
  const yaml = [
    'pce_addr: pce.example.com:8443', 'api_key: "key1 secret1"', `data_directory: ${dir}`,
    'consumers:', '  - name: nf', '    parser: { type: ipfix }', '    connectors:', '      - type: udp', `        properties: { ports: "${port}" }`, '',
  ].join('\n');
  const tpl: EncTemplate = { id: 300, fields: [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 11, length: 2 }, { id: 4, length: 1 }, { id: 2, length: 4 }, { id: 1, length: 4 }] };
  const rows = [['10.1.1.1', '10.2.2.2', 443, 6, 1, 100], ['10.1.1.2', '10.2.2.2', 53, 17, 2, 200]];
  const send = (b: Buffer) => new Promise<void>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.bind(from, '127.0.0.1', () => s.send(b, port, '127.0.0.1', (err) => (s.close(), err ? reject(err) : resolve())));
  });
  const run = async (payload: Buffer) => {
    const delivery = new RecordingDelivery();
    const rt = new ServiceRuntime(parseServiceConfig(yaml, 'c.yaml'), { createDelivery: () => delivery, log: new MemoryLog() });
    await rt.start();
    await send(payload);
    await until('records', () => delivery.records() > 0, 3000).catch(() => {});
    await rt.stop();
    return delivery.records();
  };
  assert.equal(await run(new IpfixMessageBuilder({ domainId: 5, exportTimeSec: 1_700_000_000, sequence: 0 }).templates([tpl]).data(tpl, rows).build()), 2);
  // The restarted service gets data only: the template comes from data_directory/state/templates.json.
  assert.equal(await run(new IpfixMessageBuilder({ domainId: 5, exportTimeSec: 1_700_000_010, sequence: 2 }).data(tpl, rows).build()), 2);
});

test('runtime: a store output keeps what a consumer accepts, answerable by sluice query', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rt-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = path.join(dir, 'store');
  const yaml = [
    'pce_addr: pce.example.com:8443', 'api_key: "key1 secret1"', `data_directory: ${dir}`,
    'outputs:', `  - { type: store, path: ${store} }`,
    'consumers:', '  - name: nf', '    parser: { type: netflow }', '    connectors:', '      - type: udp', '        properties: { ports: "0" }', '',
  ].join('\n');
  const delivery = new RecordingDelivery();
  const rt = new ServiceRuntime(parseServiceConfig(yaml, 'c.yaml'), { createDelivery: () => delivery, log: new MemoryLog() });
  await rt.start();
  await sendUdp('127.0.0.1', rt.listening[0]!.port, v5('10.1.1.1', 443));
  await sendUdp('127.0.0.1', rt.listening[0]!.port, v5('10.1.1.2', 53));
  await until('2 records', () => delivery.records() >= 2);
  await rt.stop(); // writes the open window
  const r = await runSluice(['query', '--store', store, '-s', 'dstport', '--format', 'csv', '-t', '2023-01-01/2024-01-01']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const col = lines[0]!.split(',').indexOf('dstport');
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[col]).sort(), ['443', '53']);
});

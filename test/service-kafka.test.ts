/**
 * The kafka connector with the text parser against a real Kafka-protocol broker: librdkafka's
 * mock cluster (Debian's kcat). Lines are produced with kcat, consumed by sluice's consumer group
 * member (kafkajs), parsed into flow records and handed to a recording DeliveryPipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseServiceConfig } from '../src/service/config.js';
import { createLineSource } from '../src/service/line-sources.js';
import { ServiceRuntime } from '../src/service/runtime.js';
import { flowKeys } from '../src/pipeline/flow-fields.js';
import type { Log } from '../src/model/contracts.js';
import type { DeliveryPipeline } from '../src/outputs/upload/delivery.js';
import type { FlowBatch } from '../src/wire/batch.js';
import { haveKcat, startMockCluster } from './helpers/kafka-mock.js';

const skip = haveKcat() ? false : 'kcat (Debian package kcat) is not installed';

function produce(bootstrap: string, topic: string, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('kcat', ['-b', bootstrap, '-P', '-t', topic, '-p', '0'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}: ${err}`))));
    p.stdin!.end(`${lines.join('\n')}\n`);
  });
}

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };

test('kafka text consumer: lines from a topic become flow records; bad lines are counted', { skip, timeout: 90_000 }, async (t) => {
  const cluster = await startMockCluster('fwlogs');
  t.after(() => cluster.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-kafka-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  for (let i = 0; i < 50; i++) lines.push(`Dec 01 2026 10:00:${String(i % 60).padStart(2, '0')} src=10.0.${i}.1 dst=10.1.0.${i} dpt=${1000 + i} proto=${i % 2 ? 'udp' : 'tcp'}`);
  lines.push('this line is not a flow');
  await produce(cluster.bootstrap, 'fwlogs', lines);

  const cfg = parseServiceConfig(
    [
      'pce_addr: pce.example.com:8443',
      'api_key: "k s"',
      `data_directory: ${dir}`,
      'consumers:',
      '  - name: kafka-fw',
      '    parser:',
      '      type: text',
      '      properties: { src_ip: src, dst_ip: dst, dst_port: dpt, protocol: proto, timestamp: "1, 2, 3, 4", timestamp_format: "mmm dd yyyy HH:MM:SS" }',
      '    connectors:',
      '      - type: kafka',
      `        properties: { version: 2.8.0, brokers: "${cluster.bootstrap}", group: sluice-test, topics: fwlogs, client_id: sluice-test, from_beginning: true }`,
      '',
    ].join('\n'),
    'c.yaml',
  );
  const batches: FlowBatch[] = [];
  const delivery: DeliveryPipeline = { push: (b) => batches.push(b), start: async () => {}, stop: async () => {} };
  const rt = new ServiceRuntime(cfg, { createDelivery: () => delivery, log: quiet, lineSource: createLineSource });
  await rt.start();
  t.after(() => rt.stop());
  const t0 = Date.now();
  while (batches.reduce((n, b) => n + b.count, 0) < 50 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
  await rt.stop();
  const keys = batches.flatMap(flowKeys);
  assert.equal(keys.length, 50);
  const want = Array.from({ length: 50 }, (_, i) => `10.0.${i}.1>10.1.0.${i}:${1000 + i}/${i % 2 ? 17 : 6}`).sort();
  assert.deepEqual(keys.map((k) => `${k.src}>${k.dst}:${k.dstPort}/${k.protocol}`).sort(), want);
  assert.equal(batches[0]!.ctx.session.transport, 'kafka');
  assert.equal(batches[0]!.ctx.session.address, 'fwlogs');
  assert.equal(new Date(batches[0]!.startMs[0]!).toISOString().slice(0, 16), '2026-12-01T10:00');
  const metrics = await rt.metrics.metrics();
  assert.match(metrics, /sluice_input_dropped_total\{consumer="kafka-fw",reason="unparsed-missing-address"\} 1/);
  assert.match(metrics, /sluice_lines_total\{consumer="kafka-fw"\} 51/);
});

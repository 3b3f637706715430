/**
 * The aws connector against a local fake CloudWatch Logs endpoint (this test's HTTP server,
 * speaking the service's JSON protocol for FilterLogEvents): pages followed through nextToken,
 * VPC flow log lines parsed into records, and a restart that resumes where the last run stopped
 * without sending anything twice (events sharing the last millisecond included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
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

interface Ev {
  logStreamName: string;
  timestamp: number;
  message: string;
  eventId: string;
}

/** FilterLogEvents over a list of events: startTime inclusive, `pageSize` events per page. */
class FakeCloudWatchLogs {
  readonly events: Ev[] = [];
  readonly requests: Array<{ target: string; body: Record<string, unknown>; auth: string }> = [];
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const b = JSON.parse(body || '{}') as { logGroupName?: string; startTime?: number; nextToken?: string };
      this.requests.push({ target, body: b, auth: String(req.headers.authorization ?? '') });
      if (target !== 'Logs_20140328.FilterLogEvents' || b.logGroupName !== 'vpc-flows') {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'no such group' }));
        return;
      }
      const all = this.events.filter((e) => e.timestamp >= (b.startTime ?? 0)).sort((x, y) => x.timestamp - y.timestamp);
      const at = b.nextToken ? Number(b.nextToken) : 0;
      const page = all.slice(at, at + this.pageSize);
      const next = at + this.pageSize < all.length ? String(at + this.pageSize) : undefined;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ events: page.map((e) => ({ ...e, ingestionTime: e.timestamp + 1 })), nextToken: next, searchedLogStreams: [] }));
    });
  });
  constructor(readonly pageSize: number) {}
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
  add(timestamp: number, n: number, stream = 'eni-1-all'): void {
    const id = this.events.length;
    const start = Math.floor(timestamp / 1000);
    this.events.push({ logStreamName: stream, timestamp, eventId: `ev${id}`, message: `2 123456789010 eni-1 10.0.0.${n} 10.0.1.${n} 40000 ${1000 + n} 6 1 60 ${start} ${start + 60} ACCEPT OK` });
  }
}

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };

async function run(dir: string, endpoint: string, until: (batches: FlowBatch[]) => boolean): Promise<FlowBatch[]> {
  const cfg = parseServiceConfig(
    [
      'pce_addr: pce.example.com:8443',
      'api_key: "k s"',
      `data_directory: ${dir}`,
      'consumers:',
      '  - name: vpc',
      '    parser: { type: aws }',
      '    connectors:',
      '      - type: aws',
      `        properties: { region: us-west-2, credentials: "AKIDEXAMPLE wJalrXUtnFEMIEXAMPLEKEY", log_groupname: vpc-flows, endpoint: "${endpoint}", poll_seconds: 1 }`,
      '',
    ].join('\n'),
    'c.yaml',
  );
  const batches: FlowBatch[] = [];
  const delivery: DeliveryPipeline = { push: (b) => batches.push(b), start: async () => {}, stop: async () => {} };
  const rt = new ServiceRuntime(cfg, { createDelivery: () => delivery, log: quiet, lineSource: createLineSource });
  await rt.start();
  try {
    const t0 = Date.now();
    while (!until(batches) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await rt.stop();
  }
  return batches;
}

const ports = (bs: FlowBatch[]) => bs.flatMap(flowKeys).map((k) => k.dstPort!).sort((a, b) => a - b);
const count = (bs: FlowBatch[]) => bs.reduce((n, b) => n + b.count, 0);

test('aws connector: FilterLogEvents pages, VPC lines to records, resume after restart without re-sending', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cwl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fake = new FakeCloudWatchLogs(2);
  const endpoint = await fake.start();
  t.after(() => fake.stop());

  // First run: events written while it runs (a first run starts at its start time).
  const now = Date.now() + 1000;
  const first = await run(dir, endpoint, (bs) => {
    if (fake.events.length === 0) {
      for (let n = 1; n <= 4; n++) fake.add(now + n * 10, n);
      fake.add(now + 40, 5, 'eni-2-all'); // same millisecond as event 4, another stream
    }
    return count(bs) >= 5;
  });
  assert.deepEqual(ports(first), [1001, 1002, 1003, 1004, 1005]);
  assert.equal(first[0]!.ctx.protocol, 'aws');
  const paged = fake.requests.filter((r) => r.body.nextToken !== undefined);
  assert.ok(paged.length >= 2, `pages followed through nextToken (${fake.requests.length} requests)`);
  assert.ok(fake.requests.every((r) => r.target === 'Logs_20140328.FilterLogEvents' && r.body.logGroupName === 'vpc-flows'));
  assert.match(fake.requests[0]!.auth, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-west-2\/logs\/aws4_request/);

  // While stopped: one more event in the last millisecond taken, and two later ones.
  fake.add(now + 40, 6, 'eni-3-all');
  fake.add(now + 50, 7);
  fake.add(now + 60, 8);
  const before = fake.requests.length;
  const second = await run(dir, endpoint, (bs) => count(bs) >= 3);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(ports(second), [1006, 1007, 1008], 'only what the first run had not taken');
  const resumed = fake.requests[before]!;
  assert.equal(resumed.body.startTime, now + 40, 'asks from the last timestamp taken');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector, ROOT, runSluice } from './helpers/cli.js';
import { IpfixMessageBuilder, type EncTemplate } from '../src/wire/encode/ipfix.js';

const T: EncTemplate = { id: 256, fields: [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 4 }, { id: 4, length: 1 }] };
const tpl = () => new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_700_000_000, sequence: 0 }).templates([T]).build();
const data = (n: number) =>
  new IpfixMessageBuilder({ domainId: 1, exportTimeSec: 1_700_000_000, sequence: 0 })
    .data(T, Array.from({ length: n }, (_, i) => ['10.0.0.1', `10.0.0.${i + 2}`, 100 + i, 17]))
    .build();

for (const workers of [0, 1]) {
  test(`collect (--workers ${workers}): print + two files at once, different format options, files complete after SIGTERM`, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-outputs-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const unixDir = path.join(dir, 'unix', '%Y');
    const sameDir = path.join(dir, 'same');
    const c = await Collector.start(
      ['--workers', String(workers), '-l', 'udp://127.0.0.1:0', '-o', 'print', '-o', `file:${unixDir}?format=json,detailedInfo=true,timestamp=unix&compression=gzip`, '-o', `file:${sameDir}?prefix=flows.`],
      1,
    );
    t.after(() => c.stop());
    // Outputs with the same options share a formatting pass: print and the second file form one group.
    assert.match(c.stderr, /outputs: print \+ file:\S+same\S*; file:\S+unix/);
    const s = dgram.createSocket('udp4');
    t.after(() => s.close());
    const send = (buf: Buffer) => new Promise<void>((r, j) => s.send(buf, c.ports[0]!, '127.0.0.1', (e) => (e ? j(e) : r())));
    await send(tpl());
    await send(data(5));
    await c.waitForLines(5);
    assert.equal(await c.stop(), 0);

    const printed = c.lines();
    assert.equal(printed.length, 5, c.stderr);
    assert.equal(printed[0]!['ipfix:exportTime'], undefined);
    assert.equal(printed[4]!['iana:destinationIPv4Address'], '10.0.0.6');

    const year = String(new Date().getUTCFullYear());
    const gz = readdirSync(path.join(dir, 'unix', year));
    assert.equal(gz.length, 1, `one finished file, no temp file: ${gz.join(', ')}`);
    assert.match(gz[0]!, /^json\.\d{12}\.gz$/);
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('gzip', ['-dc', path.join(dir, 'unix', year, gz[0]!)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const fileLines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(fileLines.length, 5);
    assert.equal(typeof fileLines[0]!['ipfix:exportTime'], 'number', 'unix timestamps and detailed info in this file only');

    const same = readdirSync(sameDir);
    assert.equal(same.length, 1);
    assert.match(same[0]!, /^flows\.\d{12}$/);
    assert.equal(readFileSync(path.join(sameDir, same[0]!), 'utf8'), c.stdout, 'same options: the same bytes as print');
    assert.match(c.stderr, /stopped: .*outputs: print: written 5, dropped 0; file:.*written 5, dropped 0; file:.*written 5, dropped 0/);
  });
}

test('collect: --output errors name the flag and the bad part; bad output specs stop the start', async () => {
  const bad = await runSluice(['collect', '-l', 'udp://127.0.0.1:0', '-o', 'tcp-server://:99999']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--output tcp-server:\/\/:99999: port 99999 out of range/);
  const fmt = await runSluice(['collect', '-l', 'udp://127.0.0.1:0', '-o', 'print?format=json,bogus=1']);
  assert.equal(fmt.code, 2);
  assert.match(fmt.stderr, /--output print\?format=json,bogus=1: format: unknown option "bogus"/);
});

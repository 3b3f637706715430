import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseServiceConfig, type ServiceConfig } from '../src/service/config.js';
import { renderSchema, SCHEMA_PATH } from '../scripts/gen-service-schema.js';
import { ROOT, runSluice } from './helpers/cli.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/flowlink');
const SECRET = 'S3cr3tValueNeverLogged';

/** A temporary /home/employee/ with the guide's api_info file ("KEY SECRET"). */
function employeeHome(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-employee-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'api_info'), `api_1f2e3d4c ${SECRET}\n`);
  return dir;
}

function loadFixture(name: string, home: string): { cfg: ServiceConfig; text: string } {
  const text = readFileSync(path.join(FIXTURES, name), 'utf8').replaceAll('/home/employee/', `${home}/`);
  return { cfg: parseServiceConfig(text, name), text };
}

function problems(text: string, home = '/nonexistent'): string[] {
  try {
    parseServiceConfig(text.replaceAll('/home/employee/', `${home}/`), 'c.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const base = (home: string, extra = '') =>
  [`pce_addr: pce.example.com:8443`, `api_key: $cat ${home}/api_info`, `data_directory: ${home}`, extra, 'consumers:', '  - name: n', '    parser: { type: netflow }', '    connectors:', '      - type: udp', '        properties: { ports: "2055" }', ''].join('\n');

test('service config: every FlowLink guide example loads', (t) => {
  const home = employeeHome(t);
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml') && f !== 'typo.yaml');
  assert.ok(files.length >= 9, files.join(' '));
  for (const f of files) {
    const { cfg } = loadFixture(f, home);
    assert.ok(cfg.consumers.length >= 1, f);
    assert.equal(cfg.pce?.keyId, 'api_1f2e3d4c', f);
    assert.equal(cfg.pce?.secret, SECRET, f);
  }
  const kv = loadFixture('key-values.yaml', home).cfg;
  assert.deepEqual(
    { a: kv.aggregationMinutes, s: kv.dataDirectorySizeMb, r: kv.fileRetentionHours, m: kv.metricsPrintSeconds, o: kv.orgId, u: kv.pce?.url },
    { a: 10, s: 200, r: 8, m: 30, o: 1, u: 'https://pce.example.com:8443' },
  );
  const nf = loadFixture('netflow.yaml', home).cfg.consumers[0]!;
  assert.deepEqual(nf.connectors[0], { type: 'udp', ports: [2055, 9995], host: '', remoteAddrs: ['10.1.1.1', '10.1.1.2', '192.168.0.0/16'] });
  const sf = loadFixture('sflow.yaml', home).cfg.consumers[0]!;
  assert.deepEqual(sf.connectors[0]!.type === 'udp' && sf.connectors[0].remoteAddrs, ['10.2.0.0/24', '2001:db8::/48']);
  const aws = loadFixture('aws.yaml', home).cfg;
  assert.deepEqual(aws.consumers[0]!.connectors[0], {
    type: 'aws',
    region: 'us-west-2',
    credentials: { accessKeyId: 'AKIAEXAMPLEKEYID', secretAccessKey: 'wJalrXUtnFEMIexampleSECRETkey' },
    logGroupName: 'vpc-flow-logs',
    endpoint: undefined,
    pollSeconds: 60,
  });
  assert.equal(aws.orgId, 3);
  const text = loadFixture('text-syslog.yaml', home).cfg.consumers;
  assert.ok(text[0]!.parser.type === 'text');
  assert.deepEqual(text[0]!.parser.props.src_ip, { kind: 'tag', tag: 'sip' });
  assert.ok(text[1]!.parser.type === 'text');
  assert.deepEqual(text[1]!.parser.props.timestamp, [{ kind: 'field', index: 1 }, { kind: 'field', index: 2 }, { kind: 'field', index: 3 }]);
  const k = loadFixture('text-kafka.yaml', home).cfg.consumers[0]!;
  assert.ok(k.parser.type === 'text');
  assert.deepEqual(k.parser.props.timestamp, [{ kind: 'tag', tag: 'date_time' }, { kind: 'field', index: 1 }]);
  assert.deepEqual(k.connectors[0], { type: 'kafka', version: '2.8.0', brokers: ['kafka1.example.com:9092', 'kafka2.example.com:9092'], group: 'flowlink', topics: ['firewall-flows'], clientId: 'flowlink-1', fromBeginning: false });
  const full = loadFixture('full.yaml', home).cfg;
  assert.equal(full.consumers.length, 5);
  assert.equal(full.aggregationMinutes, 5);
  assert.equal(loadFixture('destinations.yaml', home).cfg.consumers[0]!.name, 'netflow');
});

test('service config: the key mistyped on purpose is reported with its line:column', (t) => {
  const home = employeeHome(t);
  const text = readFileSync(path.join(FIXTURES, 'typo.yaml'), 'utf8');
  const line = text.split('\n').findIndex((l) => l.includes('remote_adrs')) + 1;
  const col = text.split('\n')[line - 1]!.indexOf('remote_adrs') + 1;
  const p = problems(text, home);
  assert.equal(p.length, 1, p.join('\n'));
  assert.equal(p[0], `c.yaml:${line}:${col}: consumers.0.connectors.0.properties.remote_adrs: unknown key "remote_adrs"`);
  assert.equal(line, 14);
});

test('service config: defaults and the rules of each key', (t) => {
  const home = employeeHome(t);
  const c = parseServiceConfig(base(home), 'c.yaml');
  assert.deepEqual(
    [c.orgId, c.aggregationMinutes, c.dataDirectorySizeMb, c.fileRetentionHours, c.metricsPrintSeconds, c.pce?.maxLinesPerPost, c.pce?.maxInFlight, c.pce?.insecure],
    [1, 10, 500, 24, 60, 1000, 20, false],
  );
  const rule = (extra: string, expect: RegExp) => {
    const p = problems(base(home, extra), home);
    assert.ok(p.some((x) => expect.test(x)), `${extra}: ${p.join('\n')}`);
  };
  rule('aggregation_minutes: 4', /^c\.yaml:4:22: aggregation_minutes: Too small/);
  rule('aggregation_minutes: 61', /aggregation_minutes: Too big/);
  rule('data_directory_size_mb: 99', /data_directory_size_mb: Too small/);
  rule('file_retention_hours: 3', /file_retention_hours: Too small/);
  rule('metrics_print_seconds: 14', /metrics_print_seconds: Too small/);
  // data_directory is required; pce_addr and api_key go together.
  assert.ok(problems('pce_addr: p:1\napi_key: "a b"\nconsumers: []\n').some((x) => /data_directory: Invalid input/.test(x)));
  assert.ok(problems(base(home).replace(/^pce_addr.*\n/, '')).some((x) => /pce_addr: pce_addr is required with api_key/.test(x)));
  assert.ok(problems(base(home).replace(/^api_key.*\n/m, '')).some((x) => /api_key: api_key is required with pce_addr/.test(x)));
  // api_key: "KEY SECRET" literally, or $cat of a file holding it; the secret never appears in a message.
  const lit = parseServiceConfig(base(home).replace(/^api_key.*$/m, `api_key: "k1 ${SECRET}"`), 'c.yaml');
  assert.deepEqual([lit.pce?.keyId, lit.pce?.secret], ['k1', SECRET]);
  const one = problems(base(home).replace(/^api_key.*$/m, `api_key: ${SECRET}`));
  assert.ok(one.some((x) => x.startsWith('c.yaml:2:10: api_key: expected "KEY SECRET"')), one.join('\n'));
  assert.ok(!one.join('\n').includes(SECRET));
  writeFileSync(path.join(home, 'bad_info'), `${SECRET}\n`);
  const bad = problems(base(home).replace(/api_info/, 'bad_info'));
  assert.ok(bad.some((x) => /api_key: expected the API key id and secret separated by a space \(found 1 word\)/.test(x)), bad.join('\n'));
  assert.ok(!bad.join('\n').includes(SECRET));
  assert.ok(problems(base(home).replace(/api_info/, 'missing')).some((x) => /api_key: cannot read .*missing: ENOENT/.test(x)));
  // udp/tcp properties
  const conn = (props: string) => problems(base(home).replace('{ ports: "2055" }', props), home);
  assert.ok(conn('{ ports: "2055,70000" }').some((x) => /properties\.ports: "70000" is not a port/.test(x)));
  assert.ok(conn('{ ports: "2055", remote_addrs: "10.0.0.0/33" }').some((x) => /remote_addrs: "10\.0\.0\.0\/33" is not an IP address or CIDR/.test(x)));
  assert.deepEqual(conn('{ ports: 2055, remote_addrs: [10.0.0.1, "::1", 10.0.0.0/8] }'), []);
  // sctp is refused at validation, with the reason
  const sctp = problems(base(home).replace('type: udp', 'type: sctp'));
  assert.ok(sctp.some((x) => /^c\.yaml:9:\d+: consumers\.0\.connectors\.0\.type: sctp is not available: Node\.js has no SCTP/.test(x)), sctp.join('\n'));
  // parser and connector must fit
  const mismatch = problems(base(home).replace('type: udp', 'type: kafka').replace('{ ports: "2055" }', '{ brokers: "b:9092", group: g, topics: t }'));
  assert.ok(mismatch.some((x) => /the kafka connector carries text lines/.test(x)), mismatch.join('\n'));
  // text parser: timestamp_format grammar is checked at load
  const textCfg = (props: string) =>
    problems(base(home).replace('parser: { type: netflow }', `parser: { type: text, properties: { src_ip: 1, dst_ip: 2, dst_port: 3, protocol: 4, ${props} } }`));
  assert.deepEqual(textCfg('timestamp: 5, timestamp_format: "yyyy-mm-dd HH:MM:SS"'), []);
  assert.ok(textCfg('timestamp: 5, timestamp_format: "yyyy-QQ"').some((x) => /timestamp_format: timestamp_format "yyyy-QQ": "QQ" at position 6 is not a format token/.test(x)));
  assert.ok(textCfg('timestamp: 5').some((x) => /timestamp needs timestamp_format/.test(x)));
  assert.ok(textCfg('timestamp: "0"').some((x) => /field numbers start at 1/.test(x)));
  // aws parser custom format field names are checked
  const awsFmt = problems(base(home).replace('parser: { type: netflow }', 'parser: { type: aws, properties: { format: "${version} ${srcaddr} ${dstadr}" } }').replace('type: udp', 'type: tcp'));
  assert.ok(awsFmt.some((x) => /"dstadr" is not an AWS VPC flow log field/.test(x)), awsFmt.join('\n'));
  // sluice additions: relays and forward_to receivers
  const relay = problems(base(home, 'relays: [{ listen: ["udp://:2055"], receivers: ["192.0.2.1/2055/10,64", "192.0.2.2:2055"] }]'));
  assert.ok(relay.some((x) => /relays\.0\.receivers\.1: "192\.0\.2\.2:2055": .*\(column 1 of the receiver\); expected addr\/port\[\/interval\[,ttl\]\]\[\/S\|\/P\]/.test(x)), relay.join('\n'));
  const tcpRelay = problems(base(home, 'relays: [{ listen: ["tcp://:2055"], receivers: ["192.0.2.1/2055/S"] }]'));
  assert.ok(tcpRelay.some((x) => /relays\.0\.listen\.0: "tcp:\/\/:2055": a relay listens on UDP/.test(x)), tcpRelay.join('\n'));
  assert.deepEqual(problems(base(home, 'metrics: { listen: 9464 }'), home), []);
  assert.deepEqual(parseServiceConfig(base(home, 'metrics: { listen: 9464 }'), 'c.yaml').metricsListen, { host: '127.0.0.1', port: 9464 });
  // Beyond loopback the metrics need credentials.
  const open = problems(base(home, 'metrics: { listen: "0.0.0.0:9464" }'), home);
  assert.ok(open.some((x) => /metrics\.listen: 0\.0\.0\.0 is not a loopback address; give metrics\.auth_file/.test(x)), open.join('\n'));
  const missing = problems(base(home, `metrics: { listen: "0.0.0.0:9464", auth_file: ${JSON.stringify(path.join(home, 'no-such-file'))} }`), home);
  assert.ok(missing.some((x) => /metrics\.auth_file: cannot read the auth file/.test(x)), missing.join('\n'));
});

test('service config: the shipped JSON Schema is generated from the same definitions', () => {
  const onDisk = readFileSync(SCHEMA_PATH, 'utf8');
  assert.equal(onDisk, renderSchema(), 'schema/sluice-config.schema.json is stale: run node --import tsx scripts/gen-service-schema.ts');
  const s = JSON.parse(onDisk) as { type: string; required: string[]; additionalProperties: boolean; properties: Record<string, { default?: unknown; minimum?: number; maximum?: number }> };
  assert.equal(s.type, 'object');
  assert.equal(s.additionalProperties, false);
  assert.deepEqual(s.required, ['data_directory']);
  for (const k of ['pce_addr', 'api_key', 'org_id', 'data_directory', 'aggregation_minutes', 'data_directory_size_mb', 'file_retention_hours', 'metrics_print_seconds', 'consumers', 'outputs', 'relays', 'listeners']) {
    assert.ok(k in s.properties, k);
  }
  assert.deepEqual([s.properties.aggregation_minutes!.default, s.properties.aggregation_minutes!.minimum, s.properties.aggregation_minutes!.maximum], [10, 5, 60]);
  assert.deepEqual([s.properties.metrics_print_seconds!.default, s.properties.metrics_print_seconds!.minimum], [60, 15]);
  assert.match(onDisk, /"const": "sctp"/);
  assert.match(onDisk, /"remote_addrs"/);
});

test('sluice check-config: OK for a guide example, every problem with file:line:column for the typo, exit 1', async (t) => {
  const home = employeeHome(t);
  const good = path.join(home, 'netflow.yaml');
  writeFileSync(good, readFileSync(path.join(FIXTURES, 'netflow.yaml'), 'utf8').replaceAll('/home/employee/', `${home}/`));
  const ok = await runSluice(['check-config', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /configuration OK/);
  assert.match(ok.stdout, /netflow-core: netflow over udp ports 2055,9995/);
  assert.ok(!ok.stdout.includes(SECRET) && !ok.stderr.includes(SECRET));
  const typo = path.join(home, 'typo.yaml');
  writeFileSync(typo, readFileSync(path.join(FIXTURES, 'typo.yaml'), 'utf8').replaceAll('/home/employee/', `${home}/`));
  const bad = await runSluice(['check-config', typo]);
  assert.equal(bad.code, 1);
  assert.ok(bad.stderr.includes(`${typo}:14:11: consumers.0.connectors.0.properties.remote_adrs: unknown key "remote_adrs"`), bad.stderr);
});

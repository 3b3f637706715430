import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IeDefinitionError, IeRegistry, netflowFieldId, netflowFieldPen, parseDataType, protocolKeyword, valueName } from '../src/wire/ie/registry.js';
import { NETFLOW_EXTRA_PEN, NETFLOW_PEN, REVERSE_PEN } from '../src/wire/ie/types.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The fields a test cares about, without the ones that are undefined. */
function pick(pen: number, id: number, reg = IeRegistry.builtin()): Record<string, unknown> | undefined {
  const ie = reg.get(pen, id);
  return ie === undefined ? undefined : Object.fromEntries(Object.entries(ie).filter(([, v]) => v !== undefined));
}

test('IANA elements from ipfix.xml', () => {
  assert.deepEqual(pick(0, 1), { pen: 0, id: 1, name: 'octetDeltaCount', type: 'unsigned64', semantics: 'deltaCounter', units: 'octets', scope: 'iana', reverse: false });
  assert.equal(pick(0, 8)?.name, 'sourceIPv4Address');
  assert.equal(pick(0, 8)?.type, 'ipv4Address');
  assert.deepEqual([pick(0, 152)?.name, pick(0, 152)?.type, pick(0, 152)?.units], ['flowStartMilliseconds', 'dateTimeMilliseconds', 'milliseconds']);
  assert.deepEqual([pick(0, 291)?.name, pick(0, 291)?.type], ['basicList', 'basicList']);
  assert.equal(pick(0, 533)?.name, 'pathDelaySumDeltaMicroseconds'); // newest IANA addition
  assert.equal(IeRegistry.builtin().get(0, 416), undefined); // deprecated without a name
  assert.equal(IeRegistry.builtin().get(0, 9999), undefined);
  assert.equal(IeRegistry.builtin().scopeName(0), 'iana');
});

test('RFC 5103 reverse twins under PEN 29305, including elements without a reverse meaning', () => {
  const reg = IeRegistry.builtin();
  assert.deepEqual(pick(REVERSE_PEN, 1), { pen: 29305, id: 1, name: 'octetDeltaCount@reverse', type: 'unsigned64', semantics: 'deltaCounter', units: 'octets', scope: 'iana@reverse', reverse: true });
  assert.equal(reg.get(REVERSE_PEN, 148)?.name, 'flowId@reverse');
  assert.equal(reg.get(REVERSE_PEN, 239)?.reverse, true);
  assert.equal(reg.scopeName(REVERSE_PEN), 'iana@reverse');
  assert.equal(reg.lookup('iana@reverse:octetDeltaCount@reverse'), reg.get(REVERSE_PEN, 1));
});

test('CERT reverse elements by bit 0x4000 (libfds split 15)', () => {
  const reg = IeRegistry.builtin();
  const fwd = reg.get(6871, 14);
  assert.equal(fwd?.name, 'initialTCPFlags');
  assert.deepEqual(pick(6871, 14 | 0x4000), { pen: 6871, id: 16398, name: 'initialTCPFlags@reverse', type: 'unsigned16', semantics: 'flags', scope: 'cert', reverse: true });
  assert.equal(reg.scopeName(6871), 'cert');
});

test('NetFlow v9 pseudo-PENs (IPFIXcol2 convention)', () => {
  const reg = IeRegistry.builtin();
  assert.deepEqual([reg.get(NETFLOW_PEN, 233)?.name, reg.get(NETFLOW_PEN, 233)?.type], ['firewallEvent', 'unsigned8']);
  assert.equal(reg.get(NETFLOW_EXTRA_PEN, 232)?.name, 'ingressAclId');
  assert.equal(reg.scopeName(NETFLOW_PEN), 'netflow');
  assert.equal(reg.scopeName(NETFLOW_EXTRA_PEN), 'netflowExtra');
  // Field type -> (pen, id)
  assert.deepEqual([netflowFieldPen(1), netflowFieldId(1)], [0, 1]);
  assert.deepEqual([netflowFieldPen(233), netflowFieldId(233)], [NETFLOW_PEN, 233]);
  assert.deepEqual([netflowFieldPen(33000), netflowFieldId(33000)], [NETFLOW_EXTRA_PEN, 232]);
  assert.equal(reg.getNetflow(33000)?.name, 'ingressAclId');
  assert.equal(reg.getNetflow(8)?.name, 'sourceIPv4Address');
  // Only logstash knows these: ASA 40001 repeats 225, 40005 repeats 233.
  assert.equal(reg.getNetflow(40001)?.name, reg.getNetflow(225)?.name);
  assert.equal(reg.getNetflow(40001)?.type, 'ipv4Address');
  assert.equal(reg.getNetflow(40005)?.name, 'firewallEvent');
  assert.equal(reg.getNetflow(20000)?.name, 'wlanId');
});

test('enterprise scopes from libfds, NetGauze and logstash', () => {
  const reg = IeRegistry.builtin();
  assert.deepEqual([reg.get(5951, 128)?.name, reg.get(5951, 128)?.scope, reg.get(5951, 128)?.type], ['roundTripTime', 'netscaler', 'unsigned32']);
  assert.equal(reg.get(5951, 541)?.scope, 'netscaler'); // an id only logstash has
  assert.equal(reg.get(9, 8337)?.name, 'serverBytesNetwork'); // libfds wins over logstash's ciscoServerBytesNetwork
  assert.equal(reg.get(6876, 961)?.name, 'vifId'); // NetGauze extends libfds' VMware list
  assert.equal(reg.get(637, 91)?.name, 'aluInsideServiceId');
  assert.equal(reg.get(2011, 1)?.scope, 'huawei');
  assert.deepEqual([reg.get(3054, 110)?.name, reg.get(3054, 110)?.scope], ['ixiaL7AppId', 'ixia']);
  assert.equal(reg.get(3054, 126)?.type, 'float32');
  assert.equal(reg.get(10704, 3)?.name, 'TrafficType'); // upstream has no leading colon here
  assert.equal(reg.get(41916, 4321)?.type, 'unsigned64');
  assert.equal(reg.get(NETFLOW_EXTRA_PEN, 12239)?.type, 'ipv6Address'); // written "ipv6address" upstream
});

test('names are unique within every PEN', () => {
  const reg = IeRegistry.builtin();
  for (const [pen, name, id] of [[0, 'octetDeltaCount', 1], [5951, 'roundTripTime', 128], [REVERSE_PEN, 'octetDeltaCount@reverse', 1]] as const) {
    assert.equal(reg.byName(pen, name)?.id, id);
  }
  assert.equal(reg.lookup('sourceIPv4Address')?.id, 8);
  assert.equal(reg.lookup('cisco:serverBytesNetwork')?.id, 8337);
  assert.equal(reg.lookup('en29305:id148')?.name, 'flowId@reverse');
  assert.equal(reg.lookup('nosuchscope:x'), undefined);
});

test('protocol keywords and value names', () => {
  assert.equal(protocolKeyword(6), 'TCP');
  assert.equal(protocolKeyword(17), 'UDP');
  assert.equal(protocolKeyword(1), 'ICMP');
  assert.equal(protocolKeyword(58), 'IPv6-ICMP');
  assert.equal(protocolKeyword(13), 'ARGUS'); // "(deprecated)" note dropped
  assert.equal(protocolKeyword(200), undefined);
  assert.equal(valueName(0, 136, 2), 'active timeout');
  assert.equal(valueName(REVERSE_PEN, 136, 1), 'idle timeout');
  assert.equal(valueName(0, 233, 3), 'Flow Denied');
  assert.equal(valueName(0, 230, 4), 'NAT44 session create');
  assert.equal(valueName(0, 89, 0x81), 'Dropped: ACL deny');
  assert.equal(valueName(0, 89, 0x7f), 'Forwarded'); // unassigned reason: the status alone
  assert.equal(valueName(0, 1, 1), undefined);
});

test('data types are read case-insensitively', () => {
  assert.equal(parseDataType('IPV6ADDRESS'), 'ipv6Address');
  assert.equal(parseDataType('unsigned64'), 'unsigned64');
  assert.equal(parseDataType('uint64'), undefined);
});

test('user definitions: a good file, overriding builtin elements', () => {
  const reg = IeRegistry.builtin();
  const text = [
    '# site definitions',
    '',
    '0 1 myOctets unsigned32',
    '35632, 1, acmeUser, String, acme   # comma separated, type in any case',
    '\t35632\t2\tacmeAddr\tipv6address',
    '6871 900 certThing unsigned8',
    '29305 2 customReversePackets unsigned64',
    '0 2 myPackets unsigned64',
  ].join('\r\n');
  assert.equal(reg.loadDefinitionsText(text, 'site.ies'), 6);
  assert.deepEqual(pick(0, 1, reg), { pen: 0, id: 1, name: 'myOctets', type: 'unsigned32', scope: 'iana', reverse: false });
  assert.equal(reg.get(REVERSE_PEN, 1)?.name, 'myOctets@reverse'); // the twin follows the override
  assert.equal(reg.get(REVERSE_PEN, 2)?.name, 'customReversePackets'); // an explicit twin is not replaced
  assert.deepEqual(pick(35632, 1, reg), { pen: 35632, id: 1, name: 'acmeUser', type: 'string', scope: 'acme', reverse: false });
  assert.equal(reg.get(35632, 2)?.scope, 'acme');
  assert.equal(reg.get(35632, 2)?.type, 'ipv6Address');
  assert.equal(reg.scopeName(35632), 'acme');
  assert.equal(reg.get(6871, 900 | 0x4000)?.name, 'certThing@reverse');
  assert.equal(reg.byName(0, 'myOctets')?.id, 1);
  assert.equal(reg.byName(0, 'octetDeltaCount'), undefined); // replaced
  assert.equal(reg.lookup('acme:acmeUser')?.id, 1);
  // Another builtin registry does not see these definitions.
  assert.equal(IeRegistry.builtin().get(0, 1)?.name, 'octetDeltaCount');
  assert.equal(IeRegistry.builtin().get(35632, 1), undefined);

  const unnamed = IeRegistry.builtin();
  unnamed.add({ pen: 4242, id: 7, name: 'x', type: 'boolean' });
  assert.equal(unnamed.get(4242, 7)?.scope, 'en4242');
  assert.equal(unnamed.scopeName(4242), undefined);
  assert.throws(() => unnamed.add({ pen: 0, id: 40000, name: 'x', type: 'boolean' }), RangeError);
});

test('user definitions: every error names file:line:column', () => {
  const cases: [text: string, line: number, column: number, reason: RegExp][] = [
    ['0 1 foo unsigned65', 1, 9, /unknown data type "unsigned65"/],
    ['# c\n0 1 foo', 2, 8, /missing data type/],
    ['\n\n  0', 3, 4, /missing element id/],
    ['12x 1 foo string', 1, 1, /bad enterprise number "12x"/],
    ['4294967296 1 foo string', 1, 1, /bad enterprise number/],
    ['0 -1 foo string', 1, 3, /bad element id "-1"/],
    ['0 0x10 foo string', 1, 3, /bad element id "0x10"/],
    ['0 32768 foo string', 1, 3, /element id 32768 is above 32767/],
    ['0 1 9foo string', 1, 5, /bad element name "9foo"/],
    ['0 1 a:b string', 1, 5, /bad element name/],
    ['0 1 foo string my:scope', 1, 16, /bad scope name/],
    ['0 1 foo string s extra', 1, 18, /unexpected field "extra"/],
    ['0 1 foo string\n0,1,bar,string', 2, 1, /already defined on line 1/],
  ];
  for (const [text, line, column, reason] of cases) {
    const reg = IeRegistry.builtin();
    const err = (() => {
      try {
        reg.loadDefinitionsText(text, 'defs.txt');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof IeDefinitionError, `expected IeDefinitionError for ${JSON.stringify(text)}`);
    assert.deepEqual([err.file, err.line, err.column], ['defs.txt', line, column], JSON.stringify(text));
    assert.match(err.message, reason);
    assert.ok(err.message.startsWith(`defs.txt:${line}:${column}: `), err.message);
    assert.equal(reg.get(0, 1)?.name, 'octetDeltaCount', 'a bad file adds nothing');
  }
});

test('builtin() is cheap: registries share one built-in index', () => {
  const a = IeRegistry.builtin();
  const b = IeRegistry.builtin();
  // The same element object from both: the generated tables are indexed once per process, not per registry.
  assert.equal(a.get(0, 1), b.get(0, 1));
  assert.equal(a.get(0, 1)?.name, 'octetDeltaCount');
});

test('generated files match a fresh run of the generator over data/ie', () => {
  const out = mkdtempSync(join(tmpdir(), 'sluice-ie-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/gen-ie-registry.ts'), '--out', out, '--quiet'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const committed = join(root, 'src/wire/ie/generated');
    const names = readdirSync(out).sort();
    assert.deepEqual(names, ['elements.ts', 'protocols.ts', 'values.ts']);
    assert.deepEqual(readdirSync(committed).sort(), names);
    for (const name of names) {
      const fresh = readFileSync(join(out, name), 'utf8');
      assert.ok(fresh.startsWith('// generated by scripts/gen-ie-registry.ts, do not edit'));
      assert.ok(fresh === readFileSync(join(committed, name), 'utf8'), `${name} differs from a fresh run: run npm run gen:ie`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

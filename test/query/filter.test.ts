/**
 * The filter language: each construct compiled to SQL and run over a table of known flows (so the
 * semantics are proven, not the SQL text), precedence, and errors at the right column.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter } from '../../src/query/filter-sql.js';
import { parseFilter, type FilterNode } from '../../src/query/filter-parse.js';
import { FilterError, renderCaret } from '../../src/query/errors.js';
import { memoryFlows, T0, type FlowInput } from './helpers.js';

const FLOWS: FlowInput[] = [
  { id: 1, time_received: T0 + 2000, time_start: T0, time_end: T0 + 1000, exporter: '172.16.0.1', src_addr: '10.0.0.1', dst_addr: '192.168.1.10', src_port: 1234, dst_port: 80, proto: 6, tcp_flags: 0x12, packets: 10, bytes: 1000, src_as: 65001, dst_as: 65002, in_if: 1, out_if: 2, tos: 0, vlan: 10 },
  { id: 2, time_received: T0 + 6000, time_end: T0 + 5000, exporter: '172.16.0.2', src_addr: '10.0.1.5', dst_addr: '10.0.0.1', src_port: 53, dst_port: 5353, proto: 17, packets: 1, bytes: 100, sampling: 100, src_as: 0, dst_as: 0, in_if: 2, out_if: 1, tos: 184 },
  { id: 3, time_received: T0 + 3000, time_start: T0, time_end: T0 + 2000, exporter: '2001:db8:ffff::1', src_addr: '2001:db8::1', dst_addr: '2001:db8:1::2', src_port: 443, dst_port: 50000, proto: 6, tcp_flags: 0x19, packets: 5, bytes: 5000, in_if: 1 },
  { id: 4, time_received: T0 + 1000, time_start: T0, time_end: T0, exporter: '172.16.0.1', src_addr: '192.168.1.10', dst_addr: '10.0.0.1', proto: 1, icmp_type: 8, packets: 2, bytes: 168, in_if: 3 },
  { id: 5, time_received: T0 + 1000, time_start: T0, time_end: T0 + 500, exporter: '2001:db8:ffff::1', src_addr: 'fe80::1', dst_addr: 'ff02::1', proto: 58, packets: 1, bytes: 1_500_000 },
  { id: 6, time_received: T0 + 4000, time_start: T0, time_end: T0 + 3000, exporter: '172.16.0.1', src_addr: '10.0.0.2', dst_addr: '10.0.0.3', src_port: 2000, dst_port: 443, proto: 6, tcp_flags: 0xc2, packets: 3, bytes: 180, vlan: 20, src_as: 65001 },
];

let db: Awaited<ReturnType<typeof memoryFlows>>;
before(async () => {
  db = await memoryFlows(FLOWS);
});
after(() => db.close());

async function matches(filter: string): Promise<number[]> {
  const f = compileFilter(filter);
  const r = await db.conn.runAndReadAll(`SELECT id FROM flows WHERE ${f.sql} ORDER BY id`, f.params.slice());
  return r.getRowsJS().map((row) => Number(row[0]));
}

const CASES: [string, number[]][] = [
  ['', [1, 2, 3, 4, 5, 6]],
  ['any', [1, 2, 3, 4, 5, 6]],
  // addresses, either side, one side, both sides
  ['ip 10.0.0.1', [1, 2, 4]],
  ['host 10.0.0.1', [1, 2, 4]],
  ['src ip 10.0.0.1', [1]],
  ['src host 10.0.0.1', [1]],
  ['dst ip 10.0.0.1', [2, 4]],
  ['src or dst ip 192.168.1.10', [1, 4]],
  ['src and dst net 10.0.0.0/24', [6]],
  ['ip 2001:db8::1', [3]],
  ['ip 2001:DB8:0::1', [3]],
  ['ip in [10.0.0.2 2001:db8::1]', [3, 6]],
  ['src ip in [10.0.1.0/24, 192.168.1.10]', [2, 4]],
  // networks: prefix, nfdump's short form, mask form, IPv6
  ['net 10.0.0.0/16', [1, 2, 4, 6]],
  ['src net 10.0.0.0/24', [1, 6]],
  ['dst net 10.0/16', [2, 4, 6]],
  ['net 10.0.0.77/24', [1, 2, 4, 6]],
  ['net 10.0.0.0 255.255.255.0', [1, 2, 4, 6]],
  ['net 2001:db8::/32', [3]],
  ['dst net 2001:db8:1::/48', [3]],
  ['net 0.0.0.0/0', [1, 2, 4, 6]],
  ['net in [192.168.0.0/16 fe80::/10]', [1, 4, 5]],
  // ports and comparisons
  ['port 80', [1]],
  ['port 443', [3, 6]],
  ['src port 443', [3]],
  ['dst port 443', [6]],
  ['port gt 5000', [2, 3]],
  ['port >= 50000', [3]],
  ['port < 80', [2, 4, 5]], // flows without ports have port 0, as in nfdump
  ['port le 80', [1, 2, 4, 5]],
  ['port eq 53', [2]],
  ['port == 53', [2]],
  ['port = 53', [2]],
  ['port lt 54', [2, 4, 5]],
  ['port ge 50000', [3]],
  ['port>1233', [1, 2, 3, 4, 6]],
  ['dst port 2048', [4]], // ICMP type 8 code 0 as nfdump's destination port
  ['port 0', [4, 5]],
  ['src port 0', [4, 5]],
  ['dst port in [80 443]', [1, 6]],
  ['port in [53,80]', [1, 2]],
  ['not port 80', [2, 3, 4, 5, 6]],
  // protocols
  ['proto tcp', [1, 3, 6]],
  ['proto UDP', [2]],
  ['proto icmp', [4]],
  ['proto icmp6', [5]],
  ['proto ipv6-icmp', [5]],
  ['proto 58', [5]],
  ['proto gre', []],
  ['proto esp', []],
  ['proto in [tcp udp]', [1, 2, 3, 6]],
  // AS numbers
  ['as 65001', [1, 6]],
  ['src as 65001', [1, 6]],
  ['dst as 65002', [1]],
  ['as 0', [2]],
  ['as in [65002 0]', [1, 2]],
  ['as > 65001', [1]],
  // interfaces and exporter
  ['in if 1', [1, 3]],
  ['out if 1', [2]],
  ['if 2', [1, 2]],
  ['if in [3]', [4]],
  ['router ip 172.16.0.1', [1, 4, 6]],
  ['exporter 2001:db8:ffff::1', [3, 5]],
  ['exporter ip 172.16.0.2', [2]],
  // TCP flags: every listed flag set
  ['flags S', [1, 6]],
  ['flags SA', [1]],
  ['flags sa', [1]],
  ['flags AP', [3]],
  ['flags F', [3]],
  ['flags EC', [6]],
  ['flags R', []],
  ['flags U', []],
  // tos, vlan
  ['tos 184', [2]],
  ['tos 0', [1]],
  ['vlan 10', [1]],
  ['vlan > 5', [1, 6]],
  // counters, scaled by sampling (flow 2: 1 packet, 100 bytes at 1 in 100)
  ['packets > 5', [1, 2]],
  ['packets 5', [3]],
  ['packets >= 5', [1, 2, 3]],
  ['packets 100', [2]],
  ['bytes > 1k', [2, 3, 5]],
  ['bytes > 1K', [2, 3, 5]],
  ['bytes 10000', [2]],
  ['bytes > 1.4m', [5]],
  ['bytes < 1g', [1, 2, 3, 4, 5, 6]],
  ['duration > 1000', [3, 6]],
  ['duration >= 1000', [1, 3, 6]],
  ['duration 0', [2, 4]],
  ['bps > 10000', [3, 5]],
  ['bps > 10m', [5]],
  ['pps >= 2', [1, 3, 5]],
  ['pps > 2', [1]], // flow 3 has 2.5 pps: whole units, as nfdump computes them
  ['bpp > 99', [1, 2, 3, 5]],
  ['bpp < 70', [6]],
  // families
  ['ipv4', [1, 2, 4, 6]],
  ['inet', [1, 2, 4, 6]],
  ['ipv6', [3, 5]],
  ['inet6', [3, 5]],
  // boolean structure and precedence: not > and > or
  ['proto tcp or proto udp and port 53', [1, 2, 3, 6]],
  ['(proto tcp or proto udp) and port 53', [2]],
  ['not proto tcp and ipv4', [2, 4]],
  ['not (proto tcp and ipv4)', [2, 3, 4, 5]],
  ['! proto tcp', [2, 4, 5]],
  ['!proto tcp', [2, 4, 5]],
  ['not not proto tcp', [1, 3, 6]],
  ['proto tcp && port 443 || proto udp', [2, 3, 6]],
  ['ip 10.0.0.1 and not ( port 80 or port 5353 )', [4]],
  ['SRC IP 10.0.0.1 AND PROTO TCP', [1]],
  ['Src Net 10.0.0.0/24 Or Proto Icmp6', [1, 5, 6]],
];

test('every filter construct selects the flows it should', async () => {
  for (const [filter, expected] of CASES) {
    assert.deepEqual(await matches(filter), expected, `filter "${filter}"`);
  }
});

test('values reach SQL only as parameters', () => {
  const f = compileFilter("ip 10.0.0.1 and port 80 and proto tcp and bytes > 1k");
  assert.doesNotMatch(f.sql, /10\.0\.0\.1|80|1000|'/);
  assert.ok(f.params.includes('00000000-0000-0000-0000-ffff0a000001'));
  assert.ok(f.params.includes(80) && f.params.includes(6) && f.params.includes(1000));
});

function shape(n: FilterNode): unknown {
  switch (n.type) {
    case 'and':
    case 'or':
      return [n.type, ...n.items.map(shape)];
    case 'not':
      return ['not', shape(n.item)];
    case 'number':
      return `${n.columns.join('|')}`;
    default:
      return n.type;
  }
}

test('precedence: not binds tighter than and, and tighter than or; parentheses override', () => {
  assert.deepEqual(shape(parseFilter('proto 6 or port 1 and not vlan 2')), ['or', 'proto', ['and', 'src_port|dst_port', ['not', 'vlan']]]);
  assert.deepEqual(shape(parseFilter('not proto 6 and port 1 or vlan 2')), ['or', ['and', ['not', 'proto'], 'src_port|dst_port'], 'vlan']);
  assert.deepEqual(shape(parseFilter('(proto 6 or port 1) and vlan 2')), ['and', ['or', 'proto', 'src_port|dst_port'], 'vlan']);
  assert.deepEqual(shape(parseFilter('proto 6 and port 1 and vlan 2')), ['and', 'proto', 'src_port|dst_port', 'vlan']);
  assert.deepEqual(shape(parseFilter('not (proto 6 || port 1)')), ['not', ['or', 'proto', 'src_port|dst_port']]);
});

const ERRORS: [string, number, RegExp][] = [
  ['src ip 10.0.0.300', 8, /expected an IPv4 or IPv6 address, found "10.0.0.300"/],
  ['proto tcp port 80', 11, /expected "and", "or" or the end of the filter, found "port"/],
  ['port 70000', 6, /port number from 0 to 65535/],
  ['net 10.0.0.0/33', 14, /prefix length from 0 to 32/],
  ['net 2001:db8::/129', 16, /prefix length from 0 to 128/],
  ['net 10.0.0.0', 5, /expected a prefix/],
  ['net 10.0.0.0 255.0.255.0', 14, /not contiguous/],
  ['flags SAX', 9, /unknown TCP flag "X"/],
  ['(port 80', 9, /expected "\)" to close the "\(" at column 1, but the filter ended/],
  ['(port 80 port 81)', 10, /expected "\)" to close the "\(" at column 1, found "port"/],
  ['port 80)', 8, /unmatched "\)"/],
  ['proto foo', 7, /unknown protocol "foo"/],
  ['proto 256', 7, /protocol number from 0 to 255/],
  ['src port', 9, /expected a port number, but the filter ended/],
  ['frobnicate 1', 1, /unknown filter primitive "frobnicate"/],
  ['port in [80 x]', 13, /expected a port number, found "x"/],
  ['ip in []', 7, /list of addresses or prefixes is empty/],
  ['port in 80', 9, /expected "\[" to start a list of port numbers/],
  ['bytes > 1x', 9, /expected a number for bytes/],
  ['src foo', 5, /expected ip, host, net, port or as, found "foo"/],
  ['in 3', 4, /expected "if" after "in"/],
  ['router 10.0.0.1', 8, /expected "ip" after "router"/],
  ['ip 10.0.0.1 and', 16, /but the filter ended/],
  ['ip 10.0.0.1 or or ip 10.0.0.2', 16, /unknown filter primitive "or"/],
  ['port > ', 8, /expected a port number, but the filter ended/],
  ['as -1', 4, /expected an AS number, found "-1"/],
  ['ip 10.0.0.1 & port 1', 13, /found "&"/],
];

test('errors name the column and what was expected', () => {
  for (const [filter, column, message] of ERRORS) {
    assert.throws(
      () => compileFilter(filter),
      (e: unknown) => {
        assert.ok(e instanceof FilterError, `${filter}: ${String(e)}`);
        assert.equal(e.column, column, `column of "${filter}": ${e.message}`);
        assert.match(e.reason, message, filter);
        assert.match(e.message, new RegExp(`at column ${column}$`));
        return true;
      },
    );
  }
});

test('the caret helper points under the column', () => {
  const e = (() => {
    try {
      compileFilter('src ip 10.0.0.300');
    } catch (x) {
      return x as FilterError;
    }
    throw new Error('no error');
  })();
  assert.equal(e.render(), 'src ip 10.0.0.300\n       ^ expected an IPv4 or IPv6 address, found "10.0.0.300"');
  assert.equal(renderCaret('port 80', 8), 'port 80\n       ^');
  assert.equal(renderCaret('a\tb', 3, 'x'), 'a b\n  ^ x');
});

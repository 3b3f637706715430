import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddress, prefixMatches, unmapIpv4 } from '../src/wire/packet/addr.js';
import { parseReceiver, parseRelayConfig, ReceiverSyntaxError, RelayConfigError } from '../src/relay/index.js';

describe('relay addresses', () => {
  it('parses IPv4 and IPv6 to bytes and canonical text', () => {
    assert.deepEqual([...parseAddress('10.1.2.3')!.bytes], [10, 1, 2, 3]);
    const v6 = parseAddress('2001:DB8:0:0:0::1')!;
    assert.equal(v6.text, '2001:db8::1');
    assert.equal(v6.bytes.toString('hex'), '20010db8000000000000000000000001');
    assert.equal(parseAddress('::ffff:192.0.2.1')!.bytes.toString('hex'), '00000000000000000000ffffc0000201');
    assert.equal(unmapIpv4(parseAddress('::ffff:192.0.2.1')!).text, '192.0.2.1');
    assert.equal(parseAddress('::')!.text, '::');
    assert.equal(parseAddress('1:0:0:2:0:0:0:3')!.text, '1:0:0:2::3');
    assert.equal(parseAddress('1.2.3'), undefined);
    assert.equal(parseAddress('host.example'), undefined);
  });
});

describe('parseReceiver (samplicator syntax + /S /P)', () => {
  it('reads addr, port, interval, ttl and flags', () => {
    assert.deepEqual(parseReceiver('10.0.0.5'), { text: '10.0.0.5', host: '10.0.0.5', port: 2000, interval: 1 });
    assert.deepEqual(parseReceiver('10.0.0.5/2055'), { text: '10.0.0.5/2055', host: '10.0.0.5', port: 2055, interval: 1 });
    assert.deepEqual(parseReceiver('10.0.0.5/2055/10'), { text: '10.0.0.5/2055/10', host: '10.0.0.5', port: 2055, interval: 10 });
    assert.deepEqual(parseReceiver('10.0.0.5/2055/10,4'), { text: '10.0.0.5/2055/10,4', host: '10.0.0.5', port: 2055, interval: 10, ttl: 4 });
    assert.deepEqual(parseReceiver('10.0.0.5/2055/10,4/S'), { text: '10.0.0.5/2055/10,4/S', host: '10.0.0.5', port: 2055, interval: 10, ttl: 4, spoof: true });
    assert.deepEqual(parseReceiver('10.0.0.5/2055/P'), { text: '10.0.0.5/2055/P', host: '10.0.0.5', port: 2055, interval: 1, spoof: false });
    assert.deepEqual(parseReceiver('10.0.0.5/S'), { text: '10.0.0.5/S', host: '10.0.0.5', port: 2000, interval: 1, spoof: true });
    assert.deepEqual(parseReceiver('[2001:db8::5]/9995/2'), { text: '[2001:db8::5]/9995/2', host: '2001:db8::5', port: 9995, interval: 2 });
    assert.deepEqual(parseReceiver('2001:db8::5/2055'), { text: '2001:db8::5/2055', host: '2001:db8::5', port: 2055, interval: 1 });
    assert.deepEqual(parseReceiver('2001:db8::5'), { text: '2001:db8::5', host: '2001:db8::5', port: 2000, interval: 1 });
    assert.deepEqual(parseReceiver('collector.example/2055'), { text: 'collector.example/2055', host: 'collector.example', port: 2055, interval: 1 });
  });

  it('reports bad receivers with a column', () => {
    const col = (text: string): [number, string] => {
      try {
        parseReceiver(text);
      } catch (err) {
        assert.ok(err instanceof ReceiverSyntaxError);
        return [err.column, err.message];
      }
      assert.fail(`${text} parsed`);
    };
    assert.equal(col('10.0.0.5/70000')[0], 10);
    assert.match(col('10.0.0.5/70000')[1], /port 70000 is out of range/);
    assert.equal(col('10.0.0.5/2055/0')[0], 15);
    assert.equal(col('10.0.0.5/2055/1,256')[0], 17);
    assert.equal(col('10.0.0.5/2055/1/X')[0], 17);
    assert.match(col('2001:db8::1::5/2055')[1], /looks like IPv6/);
    assert.match(col('[2001:db8::1/2055')[1], /missing "]"/);
    assert.match(col('10.0.0.256/1')[1], /not an IPv4 address/);
    assert.match(col('10.0.0.5/1/2/3/4')[1], /too many/);
    assert.match(col('10.0.0.5/1/SP')[1], /contradict/);
  });
});

describe('parseRelayConfig (samplicator config file)', () => {
  it('reads masks, prefix lengths, IPv6, comments and the any-source rule', () => {
    const rules = parseRelayConfig(
      [
        '# exporters',
        '10.1.0.0/255.255.0.0: 127.0.0.1/2055 127.0.0.1/2056/10',
        '  192.0.2.7: 127.0.0.1/9995/1,3/S   # one router, spoofed',
        '[2001:db8::]/32: [::1]/2055',
        '0.0.0.0/0: 127.0.0.1/6000',
        '198.51.100.0/24:',
        '',
      ].join('\n'),
      'relay.conf',
    );
    assert.equal(rules.length, 5);
    assert.equal(rules[0]!.where, 'relay.conf:2');
    assert.deepEqual(rules[0]!.receivers.map((r) => r.port), [2055, 2056]);
    assert.equal(rules[1]!.receivers[0]!.spoof, true);
    assert.equal(rules[3]!.prefix, undefined, '0.0.0.0 matches every source');
    assert.equal(rules[4]!.receivers.length, 0);
    const m = (i: number, a: string) => prefixMatches(rules[i]!.prefix!, parseAddress(a)!);
    assert.ok(m(0, '10.1.200.3'));
    assert.ok(!m(0, '10.2.0.1'));
    assert.ok(m(1, '192.0.2.7'));
    assert.ok(!m(1, '192.0.2.8'), 'no mask = the whole address');
    assert.ok(m(2, '2001:db8:ffff::1'));
    assert.ok(!m(2, '2001:db9::1'));
    assert.ok(!m(2, '10.1.0.1'), 'families never match each other');
  });

  it('lists every problem with file:line:column', () => {
    try {
      parseRelayConfig(['10.0.0.1 127.0.0.1/2055', '10.0.0.0/33: 127.0.0.1', '10.0.0.0/24: 127.0.0.1/99999', '2001:db8::/32: 127.0.0.1', '[2001:db8::]/ff00::: 127.0.0.1'].join('\n'), 'r.conf');
      assert.fail('parsed');
    } catch (err) {
      assert.ok(err instanceof RelayConfigError);
      assert.deepEqual(
        err.problems.map((p) => `${p.line}:${p.column}`),
        ['1:1', '2:10', '3:24', '4:1', '5:14'],
      );
      assert.match(err.message, /^r\.conf:1:1: missing ":"/);
      assert.match(err.message, /r\.conf:3:24: receiver "127\.0\.0\.1\/99999": port 99999 is out of range/);
      assert.match(err.message, /r\.conf:4:1: IPv6 sources go in brackets, e\.g\. \[2001:db8::\]\/32: \.\.\./);
    }
  });
});

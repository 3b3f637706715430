/**
 * The benchmark input: an IPFIX stream as softflowd 1.1.0 (`softflowd -v 10`) exports it, built with
 * sluice's encoder. The templates are softflowd's own, as captured from it on the wire:
 *   1024  IPv4 TCP/UDP: src/dst address, flowStart/EndSysUpTime, octets, packets (4 bytes each),
 *         ingress/egress interface, flowDirection, flowEndReason, ports, protocol, TCP flags,
 *         ipVersion, ToS (42-byte records)
 *   2048  the same for IPv6 (66-byte records)
 *   256   options: meteringProcessId scope, systemInitTimeMilliseconds (the base of the sysUpTime
 *         times), sampling interval/space, selector algorithm, interface name
 * The stream opens with a message carrying the templates and the options record, as softflowd's
 * first message does; the data messages then hold `recordsPerMessage` records each, with varied
 * values (host pools, port mixes, heavy-tailed counters), about 15% of the messages IPv6.
 */
import { IpfixMessageBuilder, type EncTemplate, type EncValue } from '../src/wire/encode/ipfix.js';
import { Prng } from '../test/helpers/prng.js';

const fixed = (ids: ReadonlyArray<readonly [number, number]>) => ids.map(([id, length]) => ({ id, length }));

const COMMON_TAIL: ReadonlyArray<readonly [number, number]> = [
  [22, 4], [21, 4], [1, 4], [2, 4], [10, 4], [14, 4], [61, 1], [136, 1], [7, 2], [11, 2], [4, 1], [6, 1], [60, 1], [5, 1],
];
export const SOFTFLOWD_V4: EncTemplate = { id: 1024, fields: fixed([[8, 4], [12, 4], ...COMMON_TAIL]) };
export const SOFTFLOWD_V6: EncTemplate = { id: 2048, fields: fixed([[27, 16], [28, 16], ...COMMON_TAIL]) };
export const SOFTFLOWD_OPTIONS: EncTemplate = { id: 256, scopeCount: 1, fields: fixed([[143, 4], [160, 8], [305, 4], [306, 4], [304, 2], [82, 16]]) };

export interface IpfixStream {
  /** Message 0 carries templates and options; the rest carry data records only. */
  readonly datagrams: readonly Buffer[];
  /** Flow records in the data messages of one pass over `datagrams`. */
  readonly records: number;
  readonly bytes: number;
  readonly recordsPerMessage: number;
}

const EXPORT_START_SEC = 1_704_067_200;
const BOOT_MS = (EXPORT_START_SEC - 86_400) * 1000; // the exporter booted a day before

function hostV4(rng: Prng, inside: boolean): string {
  return inside ? `10.${rng.int(0, 3)}.${rng.int(0, 15)}.${rng.int(1, 254)}` : `${rng.pick([23, 31, 52, 104, 142, 151, 172, 185, 203])}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

function hostV6(rng: Prng, inside: boolean): string {
  return inside ? `2001:db8:10:${rng.int(0, 15).toString(16)}::${rng.int(1, 0xfff).toString(16)}` : `2a00:${rng.int(0x1000, 0xffff).toString(16)}:${rng.int(0, 0xffff).toString(16)}::${rng.int(1, 0xffff).toString(16)}`;
}

const SERVICES = [443, 443, 443, 80, 53, 53, 123, 22, 25, 993, 8080, 3478, 5060];

/** One record in softflowd's field order (everything after the two addresses is shared). */
function record(rng: Prng, v6: boolean, uptimeMs: number): EncValue[] {
  const outbound = rng.chance(0.5);
  const tcp = rng.chance(0.72);
  const service = rng.pick(SERVICES);
  const ephemeral = rng.int(32768, 60999);
  // Heavy-tailed sizes: most flows are a few packets, a few are large transfers.
  const packets = Math.min(0xffffffff, Math.floor(1 + Math.exp(rng.float() * rng.float() * 12)));
  const avg = tcp ? rng.int(52, 1400) : rng.int(60, 512);
  const octets = Math.min(0xffffffff, packets * avg);
  const duration = packets === 1 ? 0 : rng.int(1, Math.min(300_000, packets * 50));
  const end = uptimeMs - rng.int(0, 60_000);
  const inside = v6 ? hostV6(rng, true) : hostV4(rng, true);
  const outside = v6 ? hostV6(rng, false) : hostV4(rng, false);
  return [
    outbound ? inside : outside,
    outbound ? outside : inside,
    (end - duration) >>> 0,
    end >>> 0,
    octets,
    packets,
    0,
    0,
    outbound ? 1 : 0,
    rng.pick([1, 2, 3, 3, 3, 4]),
    outbound ? ephemeral : service,
    outbound ? service : ephemeral,
    tcp ? 6 : 17,
    tcp ? rng.pick([0x1b, 0x1b, 0x1f, 0x12, 0x02, 0x14, 0x18, 0x11]) : 0,
    v6 ? 6 : 4,
    rng.chance(0.9) ? 0 : rng.pick([0x10, 0x28, 0xb8]),
  ];
}

/** `messages` data messages (plus the template message), deterministic for a seed. */
export function buildIpfixStream(messages = 4000, recordsPerMessage = 25, seed = 0x1f1f): IpfixStream {
  const rng = new Prng(seed);
  const datagrams: Buffer[] = [];
  let sequence = 0;
  datagrams.push(
    new IpfixMessageBuilder({ domainId: 0, exportTimeSec: EXPORT_START_SEC, sequence })
      .templates([SOFTFLOWD_V4, SOFTFLOWD_V6, SOFTFLOWD_OPTIONS])
      .data(SOFTFLOWD_OPTIONS, [[1, BigInt(BOOT_MS), 1, 0, 1, 'eth0']])
      .build(),
  );
  let records = 0;
  for (let i = 0; i < messages; i++) {
    const exportSec = EXPORT_START_SEC + Math.floor(i / 50);
    const uptime = (exportSec * 1000 - BOOT_MS) >>> 0;
    const v6 = rng.chance(0.15);
    const recs = Array.from({ length: recordsPerMessage }, () => record(rng, v6, uptime));
    datagrams.push(new IpfixMessageBuilder({ domainId: 0, exportTimeSec: exportSec, sequence }).data(v6 ? SOFTFLOWD_V6 : SOFTFLOWD_V4, recs).build());
    sequence += recordsPerMessage;
    records += recordsPerMessage;
  }
  return { datagrams, records, bytes: datagrams.reduce((n, d) => n + d.length, 0), recordsPerMessage };
}

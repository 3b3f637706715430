/**
 * Synthetic flow blocks, shaped like what a busy router exports (a few exporters, IPv4 and some
 * IPv6, TCP/UDP, counters over a wide range, most optional columns present, `extra` on a few rows),
 * deterministic from a seed. For the store's tests and bench/store.ts.
 */
import { BlockBuilder, BLOCK_ROWS, type ColumnBlock } from '../../../src/store/columns.js';
import { Prng } from '../../helpers/prng.js';

export interface SyntheticFlows {
  readonly seed?: number;
  /** time_received of the first row (ms). */
  readonly startMs: number;
  /** Milliseconds between consecutive rows' time_received (default 1). */
  readonly stepMs?: number;
  /** Written into `domain`, one more per row, so a test can tell rows apart (default: random). */
  readonly firstId?: number;
}

/** Fills `blocks` blocks of `rows` rows each (default full blocks); row ids continue across blocks. */
export function syntheticFlowBlocks(count: number, o: SyntheticFlows, rows = BLOCK_ROWS): ColumnBlock[] {
  const prng = new Prng(o.seed ?? 1);
  const b = new BlockBuilder('flows');
  const ix = (n: string): number => b.layout.index.get(n)!;
  const c = {
    recv: ix('time_received'), start: ix('time_start'), end: ix('time_end'), exporter: ix('exporter'), domain: ix('domain'), kind: ix('kind'),
    src: ix('src_addr'), dst: ix('dst_addr'), sport: ix('src_port'), dport: ix('dst_port'), proto: ix('proto'), flags: ix('tcp_flags'),
    tos: ix('tos'), packets: ix('packets'), bytes: ix('bytes'), sampling: ix('sampling'), inIf: ix('in_if'), outIf: ix('out_if'),
    srcAs: ix('src_as'), dstAs: ix('dst_as'), nextHop: ix('next_hop'), srcMask: ix('src_mask'), dstMask: ix('dst_mask'),
    vlan: ix('vlan'), direction: ix('direction'), extra: ix('extra'),
  };
  const a4 = new Uint8Array(4);
  const a16 = new Uint8Array(16);
  const out: ColumnBlock[] = [];
  let id = o.firstId ?? 0;
  const step = o.stepMs ?? 1;
  for (let k = 0; k < count; k++) {
    for (let i = 0; i < rows; i++) {
      const r = b.addRow();
      const recv = o.startMs + (k * rows + i) * step;
      b.timestamp(c.recv, r, recv);
      b.timestamp(c.start, r, recv - prng.int(1000, 60_000));
      b.timestamp(c.end, r, recv - prng.int(0, 1000));
      a4.set([192, 0, 2, 1 + prng.int(0, 3)]);
      b.address(c.exporter, r, a4, 0, 4);
      b.u32(c.domain, r, o.firstId === undefined ? prng.int(0, 3) : id++);
      b.kind(c.kind, r, prng.int(0, 1) === 0 ? 'ipfix' : 'v9');
      if (prng.int(0, 9) === 0) {
        a16.set([0x20, 0x01, 0x0d, 0xb8, 0, prng.int(0, 255), 0, 0, 0, 0, 0, 0, 0, 0, prng.int(0, 255), prng.int(0, 255)]);
        b.address(c.src, r, a16, 0, 16);
        a16[5] = prng.int(0, 255);
        b.address(c.dst, r, a16, 0, 16);
      } else {
        a4.set([10, prng.int(0, 15), prng.int(0, 255), prng.int(0, 255)]);
        b.address(c.src, r, a4, 0, 4);
        a4.set([198, 51, 100, prng.int(0, 255)]);
        b.address(c.dst, r, a4, 0, 4);
      }
      const tcp = prng.int(0, 3) !== 0;
      b.u16(c.sport, r, prng.int(1024, 65535));
      b.u16(c.dport, r, tcp ? [443, 80, 22, 25][prng.int(0, 3)]! : 53);
      b.u8(c.proto, r, tcp ? 6 : 17);
      if (tcp) b.u16(c.flags, r, prng.int(0, 63));
      b.u8(c.tos, r, 0);
      const packets = prng.int(1, 2000);
      b.u64(c.packets, r, packets);
      b.u64(c.bytes, r, packets * prng.int(40, 1500));
      b.u32(c.sampling, r, 1);
      b.u32(c.inIf, r, prng.int(1, 48));
      b.u32(c.outIf, r, prng.int(1, 48));
      b.u32(c.srcAs, r, prng.int(0, 1) === 0 ? 0 : prng.int(1, 65000));
      b.u32(c.dstAs, r, prng.int(1, 65000));
      a4.set([192, 0, 2, 254]);
      b.address(c.nextHop, r, a4, 0, 4);
      b.u8(c.srcMask, r, 24);
      b.u8(c.dstMask, r, prng.int(8, 32));
      if (prng.int(0, 3) === 0) b.u16(c.vlan, r, prng.int(1, 4094));
      b.u8(c.direction, r, 0);
      if (prng.int(0, 9) === 0) b.string(c.extra, r, `{"iana:ipVersion":4,"iana:flowEndReason":${prng.int(1, 5)}}`);
    }
    out.push(b.take());
  }
  return out;
}

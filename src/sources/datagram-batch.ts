/**
 * A batch of received datagrams in shared memory, as the addon's batched receiver fills it
 * (native/udp_batch.c): one fixed slot per datagram in a slab, a meta row per datagram and the
 * source address bytes. Nothing in it is allocated per datagram; views are made only when needed.
 */
import { ipv4ToString, ipv6ToString } from '../wire/packet/addr.js';

/** Bytes per slot: any UDP payload fits (65 507 over IPv4, 65 527 over IPv6). */
export const BATCH_SLOT = 65_536;
/** Datagrams per batch by default (a 4 MiB slab). */
export const DEFAULT_BATCH = 64;
/** int32 per datagram in meta: length, family (4 | 6), source port, truncated (1). */
export const META = 4;

export interface DatagramBatch {
  /** Datagrams in the batch now (slots 0..count-1). */
  count: number;
  readonly slab: Buffer;
  readonly slot: number;
  readonly meta: Int32Array;
  /** 16 bytes per datagram: the source address (IPv4 in the first 4). */
  readonly addrs: Buffer;
}

export function createBatch(max = DEFAULT_BATCH, slot = BATCH_SLOT): DatagramBatch {
  return { count: 0, slab: Buffer.allocUnsafeSlow(max * slot), slot, meta: new Int32Array(max * META), addrs: Buffer.alloc(max * 16) };
}

/** Datagram i as a view into the slab (valid until the next batch). */
export function batchDatagram(b: DatagramBatch, i: number): Buffer {
  const off = i * b.slot;
  return b.slab.subarray(off, off + b.meta[i * META]!);
}

/** The source of datagram i as node:dgram prints it (IPv4-mapped IPv6 as ::ffff:a.b.c.d). */
export function batchSourceText(b: DatagramBatch, i: number): string {
  return b.meta[i * META + 1] === 4 ? ipv4ToString(b.addrs, i * 16) : ipv6ToString(b.addrs, i * 16);
}

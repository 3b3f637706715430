/**
 * sluice's optional N-API addon (native/*.c, built by `npm ci` or `npm run build:native`): batched
 * UDP receive and send (recvmmsg/sendmmsg) and raw sockets for the relay's source spoofing.
 * Everything works without it (node:dgram instead); only spoofing needs it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Family } from '../wire/packet/addr.js';

export interface NativeAddon {
  /** A non-blocking raw socket (IPPROTO_RAW; IPV6_HDRINCL for IPv6). Throws with code EPERM/EACCES without the privilege. */
  open(family: Family, sendBufferBytes: number): number;
  close(fd: number): void;
  /** The kernel's MTU towards dst, or -errno. */
  pathMtu(family: Family, dst: Buffer): number;
  /** IP packets sent (1, or the fragment count), or -errno. */
  send(fd: number, family: Family, src: Buffer, srcPort: number, dst: Buffer, dstPort: number, ttl: number, payload: Buffer, mtu: number, zeroChecksum: boolean): number;
  /** A non-blocking UDP socket connected to dst:port (ttl 0 = system default), or -errno. */
  openUdp(family: Family, dst: Buffer, port: number, ttl: number, sendBufferBytes: number): number;
  /** Bytes sent on a socket from openUdp, or -errno (a pending ICMP error comes back here). */
  sendUdp(fd: number, payload: Buffer): number;
  // Batched UDP (native/udp_batch.c); absent from addons built before it.
  /** A bound non-blocking UDP socket (IPV6_V6ONLY only when v6only; SO_RCVBUF = rcvbuf when > 0), or -errno. */
  openUdpListener?(family: Family, addr: Buffer, port: number, rcvbuf: number, v6only: boolean): number;
  localPort?(fd: number): number;
  /** SO_RCVBUF as the kernel reports it, or -errno. */
  recvBufferSize?(fd: number): number;
  /**
   * Watches fd (libuv poll) and drains it with recvmmsg(): onBatch(n) finds n datagrams in slab
   * slots 0..n-1, meta rows [length, family, port, truncated] and 16 address bytes each; n < 0 is
   * -errno of a receive error. The fd is the receiver's from then on.
   */
  startReceiver?(fd: number, slab: Buffer, slot: number, meta: Int32Array, addrs: Buffer, onBatch: (n: number) => void): object;
  /** Stops watching and closes the fd. */
  stopReceiver?(handle: object): void;
  /** sendmmsg() of slab slots idx[0..n) on a connected socket; res[j] = bytes or -errno. Returns how many were sent. */
  sendBatch?(fd: number, slab: Buffer, slot: number, meta: Int32Array, idx: Int32Array, n: number, res: Int32Array): number;
}

export const ADDON_PATH = process.env.SLUICE_NATIVE_ADDON ?? fileURLToPath(new URL('../../build/Release/sluice_native.node', import.meta.url));

let cached: NativeAddon | Error | undefined;

/** The addon, or why it could not be loaded (loaded once per process). */
export function loadNativeAddon(): NativeAddon | Error {
  if (cached === undefined) {
    try {
      cached = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
    } catch (err) {
      cached = new Error((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? `${ADDON_PATH} does not exist` : (err as Error).message.split('\n')[0]);
    }
  }
  return cached;
}

/** The addon when it loads, else undefined (for optional fast paths). */
export function tryLoadNativeAddon(): NativeAddon | undefined {
  const a = loadNativeAddon();
  return a instanceof Error || typeof a.openUdp !== 'function' ? undefined : a;
}

/**
 * The relay's listening socket (src/sources/udp-socket.ts): batches from the addon's recvmmsg
 * receiver into Replicator.handleBatch, or node:dgram datagrams one by one into Replicator.handle.
 * An IPv4 sender on the dual-stack socket is ::ffff:a.b.c.d, which the Replicator matches and
 * spoofs as IPv4.
 */
import type { NativeAddon } from '../sources/native-addon.js';
import { openUdpSocket, type UdpSocket } from '../sources/udp-socket.js';
import type { Family } from '../wire/packet/addr.js';
import type { Replicator } from './replicator.js';

export type RelayListener = UdpSocket;

export interface ListenOptions {
  /** Address to bind; undefined = every address (dual-stack '::', or '0.0.0.0' under family 4). */
  readonly host?: string;
  readonly port: number;
  readonly recvBufferBytes: number;
  /** -4 / -6. */
  readonly family?: Family;
  /** Receive errors (the socket stays open). */
  readonly onError: (err: Error) => void;
  /** 'auto' (default): batched when the addon has it and can also send in batches; 'dgram': node:dgram only. */
  readonly receiver?: 'auto' | 'dgram';
  /** For tests; default: the addon when it loads. */
  readonly addon?: NativeAddon;
}

/** Binds host:port and hands every datagram to the replicator until close(). */
export function listenRelay(rep: Replicator, o: ListenOptions): Promise<RelayListener> {
  // Batched receive pays off with batched send; an addon without sendBatch gets node:dgram.
  const receiver = o.receiver === 'dgram' || (o.addon !== undefined && o.addon.sendBatch === undefined) ? 'dgram' : 'auto';
  return openUdpSocket({
    ...o,
    receiver,
    onBatch: (b) => rep.handleBatch(b),
    onDatagram: (buf, address, port) => rep.handle(buf, address, port),
  });
}

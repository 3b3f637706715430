/**
 * One way to open a receiving UDP socket, for collect's listeners and the relay: bound exclusively,
 * SO_RCVBUF as asked, dual-stack on '::' unless an address or family is given (falling back to
 * 0.0.0.0 where the machine has no IPv6), and received either in batches by the native addon
 * (recvmmsg under a libuv poll: one JS call per batch) or by node:dgram (one event per datagram).
 */
import dgram from 'node:dgram';
import { constants as osConstants } from 'node:os';
import { parseAddress, type Family } from '../wire/packet/addr.js';
import { createBatch, type DatagramBatch } from './datagram-batch.js';
import { tryLoadNativeAddon, type NativeAddon } from './native-addon.js';
import { SluiceError } from '../util/errors.js';

export interface UdpSocketOptions {
  /** Address to bind; undefined or '' = every address (dual-stack '::', or '0.0.0.0' under family 4). */
  readonly host?: string;
  readonly port: number;
  readonly recvBufferBytes: number;
  /** Restricts an unbound host to one family (the relay's -4 / -6). */
  readonly family?: Family;
  /** 'auto' (default): batched when the addon has it; 'dgram': node:dgram only. */
  readonly receiver?: 'auto' | 'dgram';
  /** For tests; default: the addon when it loads. */
  readonly addon?: NativeAddon;
  /**
   * Batched receive: datagrams 0..count-1 of the batch. Its memory is reused after the call:
   * a consumer that keeps a datagram copies it.
   */
  readonly onBatch: (b: DatagramBatch) => void;
  /** node:dgram receive: one datagram (its own buffer) and its source as node prints it. */
  readonly onDatagram: (buf: Buffer, address: string, port: number) => void;
  /** Receive errors (the socket stays open). */
  readonly onError: (err: Error) => void;
}

export interface UdpSocket {
  /** 'batched' = the addon's recvmmsg receiver; 'dgram' = node:dgram. */
  readonly kind: 'batched' | 'dgram';
  address(): { address: string; port: number };
  /** SO_RCVBUF as the kernel reports it (Linux: twice what was granted). */
  recvBufferSize(): number;
  close(): Promise<void>;
}

const ERRNO_NAME = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v as number, k]));

function errnoError(syscall: string, errno: number, address: string, port: number): NodeJS.ErrnoException {
  const code = ERRNO_NAME.get(errno) ?? `errno ${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${address}:${port}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  return err;
}

/** Binds host:port and receives until close(). */
export async function openUdpSocket(o: UdpSocketOptions): Promise<UdpSocket> {
  const addon = o.receiver === 'dgram' ? undefined : (o.addon ?? tryLoadNativeAddon());
  const batched = addon?.openUdpListener !== undefined && addon.startReceiver !== undefined;
  const bind = (family: Family, address: string) => (batched ? bindBatched(addon!, o, family, address) : bindDgram(o, family, address));
  const host = o.host === '' ? undefined : o.host;
  if (host !== undefined) {
    const ip = parseAddress(host);
    if (ip === undefined) throw new SluiceError('usage', `"${host}" is not an IP address`);
    return bind(ip.family, host);
  }
  if (o.family === 4) return bind(4, '0.0.0.0');
  try {
    return await bind(6, '::');
  } catch (err) {
    if (o.family === 6 || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
    return bind(4, '0.0.0.0');
  }
}

function bindBatched(addon: NativeAddon, o: UdpSocketOptions, family: Family, address: string): Promise<UdpSocket> {
  const ip = parseAddress(address)!;
  const fd = addon.openUdpListener!(family, ip.bytes, o.port, o.recvBufferBytes, o.family === 6);
  if (fd < 0) return Promise.reject(errnoError('bind', -fd, address, o.port));
  const port = addon.localPort!(fd);
  const batch = createBatch();
  const handle = addon.startReceiver!(fd, batch.slab, batch.slot, batch.meta, batch.addrs, (n) => {
    if (n < 0) {
      o.onError(errnoError('recvmmsg', -n, address, port));
      return;
    }
    batch.count = n;
    o.onBatch(batch);
  });
  let closed = false;
  return Promise.resolve({
    kind: 'batched',
    address: () => ({ address: ip.text, port }),
    recvBufferSize: () => addon.recvBufferSize!(fd),
    close: async () => {
      if (closed) return;
      closed = true;
      addon.stopReceiver!(handle);
    },
  });
}

function bindDgram(o: UdpSocketOptions, family: Family, address: string): Promise<UdpSocket> {
  return new Promise<UdpSocket>((resolve, reject) => {
    const s = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: o.family === 6, recvBufferSize: o.recvBufferBytes });
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind({ port: o.port, address, exclusive: true }, () => {
      s.removeAllListeners('error');
      s.on('message', (msg, rinfo) => o.onDatagram(msg, rinfo.address, rinfo.port));
      s.on('error', o.onError);
      resolve({
        kind: 'dgram',
        address: () => s.address(),
        recvBufferSize: () => s.getRecvBufferSize(),
        close: () => new Promise<void>((r) => s.close(() => r())),
      });
    });
  });
}

/**
 * The relay's listening socket: the addon's batched receiver (recvmmsg, one JS call per batch into
 * Replicator.handleBatch) when the addon has it, else node:dgram with one 'message' event per
 * datagram into Replicator.handle. Both bind the same way (exclusive, SO_RCVBUF as given, dual-stack
 * unless IPv6-only) and report sources the same way (an IPv4 sender on the dual-stack socket is
 * ::ffff:a.b.c.d, which the Replicator matches and spoofs as IPv4).
 */
import dgram from 'node:dgram';
import { constants as osConstants } from 'node:os';
import { parseAddress, type Family } from '../wire/packet/addr.js';
import { createBatch } from './batch.js';
import { tryLoadRawSendAddon, type RawSendAddon } from './native.js';
import type { Replicator } from './replicator.js';

export interface RelayListener {
  /** 'batched' = the addon's recvmmsg receiver; 'dgram' = node:dgram. */
  readonly kind: 'batched' | 'dgram';
  address(): { address: string; port: number };
  /** SO_RCVBUF as the kernel reports it (Linux: twice what was asked). */
  recvBufferSize(): number;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Address to bind; undefined = every address (dual-stack '::', or '0.0.0.0' under family 4). */
  readonly host?: string;
  readonly port: number;
  readonly recvBufferBytes: number;
  /** -4 / -6. */
  readonly family?: Family;
  /** Receive errors (the socket stays open). */
  readonly onError: (err: Error) => void;
  /** 'auto' (default): batched when the addon has it; 'dgram': node:dgram only. */
  readonly receiver?: 'auto' | 'dgram';
  /** For tests; default: the addon at ADDON_PATH when it loads. */
  readonly addon?: RawSendAddon;
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

/** Binds host:port and hands every datagram to the replicator until close(). */
export async function listenRelay(rep: Replicator, o: ListenOptions): Promise<RelayListener> {
  const addon = o.receiver === 'dgram' ? undefined : (o.addon ?? tryLoadRawSendAddon());
  const batched = addon?.openUdpListener !== undefined && addon.startReceiver !== undefined && addon.sendBatch !== undefined;
  const bind = batched ? (type: Family, address: string) => bindBatched(addon!, rep, o, type, address) : (type: Family, address: string) => bindDgram(rep, o, type, address);
  if (o.host !== undefined) return bind(parseAddress(o.host)!.family, o.host);
  if (o.family === 4) return bind(4, '0.0.0.0');
  try {
    return await bind(6, '::');
  } catch (err) {
    if (o.family === 6 || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
    return bind(4, '0.0.0.0');
  }
}

function bindBatched(addon: RawSendAddon, rep: Replicator, o: ListenOptions, family: Family, address: string): Promise<RelayListener> {
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
    rep.handleBatch(batch);
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

function bindDgram(rep: Replicator, o: ListenOptions, family: Family, address: string): Promise<RelayListener> {
  return new Promise<RelayListener>((resolve, reject) => {
    const s = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: o.family === 6, recvBufferSize: o.recvBufferBytes });
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind({ port: o.port, address, exclusive: true }, () => {
      s.removeAllListeners('error');
      s.on('message', (msg, rinfo) => rep.handle(msg, rinfo.address, rinfo.port));
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

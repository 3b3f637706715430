import { makeSession, type TransportSession } from '../wire/batch.js';
import { ipv4ToString, ipv6ToString } from '../wire/packet/addr.js';
import { batchDatagram, META, type DatagramBatch } from './datagram-batch.js';
import { plainAddress, type ListenSpec } from './listen-uri.js';
import { openUdpSocket, type UdpSocket } from './udp-socket.js';

export type DatagramHandler = (buf: Buffer, session: TransportSession, nowMs: number) => void;

export interface UdpSourceOptions {
  /** Requested SO_RCVBUF in bytes; the kernel may grant less (net.core.rmem_max). Default 32 MiB. */
  readonly receiveBufferBytes?: number;
  /** 'auto' (default): recvmmsg batches through the native addon when it is built; 'dgram': node:dgram. */
  readonly receiver?: 'auto' | 'dgram';
  readonly onWarning?: (msg: string) => void;
}

/**
 * A UDP listener of collect and the service (src/sources/udp-socket.ts binds and receives). Every
 * datagram reaches the handler with its transport session (one object per exporter address and
 * port, reused) and the receive time, in its own buffer, so the handler may keep it.
 */
/** Whether the receive-buffer warning was given (see listen()). */
let bufferWarned = false;

export class UdpSource {
  #socket: UdpSocket | undefined;
  readonly #sessions = new Map<string, TransportSession>();
  boundPort = 0;

  constructor(
    readonly spec: ListenSpec,
    private readonly handler: DatagramHandler,
    private readonly opts: UdpSourceOptions = {},
  ) {}

  /** 'batched' or 'dgram', once started. */
  get receiver(): UdpSocket['kind'] | undefined {
    return this.#socket?.kind;
  }

  async start(): Promise<void> {
    const want = this.opts.receiveBufferBytes ?? 32 * 1024 * 1024;
    const s = await openUdpSocket({
      host: this.spec.host,
      port: this.spec.port,
      recvBufferBytes: want,
      receiver: this.opts.receiver,
      onBatch: (b) => this.#batch(b),
      onDatagram: (buf, address, port) => this.handler(buf, this.#session(address, port), Date.now()),
      onError: (err) => this.opts.onWarning?.(`udp ${this.spec.text}: ${err.message}`),
    });
    this.#socket = s;
    this.boundPort = s.address().port;
    // Linux reports double the granted size (bookkeeping overhead is included).
    const got = s.recvBufferSize() / 2;
    // One system limit caps every socket: said once per process, not once per listener.
    if (got > 0 && got < want && !bufferWarned) {
      bufferWarned = true;
      this.opts.onWarning?.(
        `udp ${this.spec.text}: receive buffer is ${Math.round(got / 1024)} KiB, not the ${Math.round(want / 1024)} KiB asked for ` +
          `(every UDP listener alike); raise net.core.rmem_max (sysctl -w net.core.rmem_max=${want}) to avoid drops under bursts`,
      );
    }
  }

  #session(address: string, port: number): TransportSession {
    const key = `${address}|${port}`;
    let session = this.#sessions.get(key);
    if (session === undefined) {
      if (this.#sessions.size > 100_000) this.#sessions.clear(); // bounded under address floods
      session = makeSession('udp', plainAddress(address), port, this.boundPort);
      this.#sessions.set(key, session);
    }
    return session;
  }

  #batch(b: DatagramBatch): void {
    const now = Date.now();
    const meta = b.meta;
    for (let i = 0; i < b.count; i++) {
      const m = i * META;
      const address = meta[m + 1] === 4 ? ipv4ToString(b.addrs, i * 16) : ipv6ToString(b.addrs, i * 16);
      // The batch's memory is reused for the next one; decoders may hold a datagram (pending templates).
      this.handler(Buffer.from(batchDatagram(b, i)), this.#session(address, meta[m + 2]!), now);
    }
  }

  async close(): Promise<void> {
    const s = this.#socket;
    this.#socket = undefined;
    await s?.close();
  }
}

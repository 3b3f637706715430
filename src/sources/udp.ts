import dgram from 'node:dgram';
import { makeSession, type TransportSession } from '../wire/batch.js';
import { plainAddress, type ListenSpec } from './listen-uri.js';

export type DatagramHandler = (buf: Buffer, session: TransportSession, nowMs: number) => void;

export interface UdpSourceOptions {
  /** Requested SO_RCVBUF in bytes; the kernel may grant less (net.core.rmem_max). */
  readonly receiveBufferBytes?: number;
  readonly onWarning?: (msg: string) => void;
}

/**
 * A UDP listener. With an empty host it binds a dual-stack socket on '::' so one port takes IPv4
 * and IPv6, and falls back to 0.0.0.0 where the machine has no IPv6.
 */
export class UdpSource {
  private socket: dgram.Socket | undefined;
  private readonly sessions = new Map<string, TransportSession>();
  boundPort = 0;

  constructor(
    readonly spec: ListenSpec,
    private readonly handler: DatagramHandler,
    private readonly opts: UdpSourceOptions = {},
  ) {}

  async start(): Promise<void> {
    const host = this.spec.host;
    const v6 = host === '' || host.includes(':');
    try {
      this.socket = await this.bind(v6 ? 'udp6' : 'udp4', host === '' ? '::' : host);
    } catch (err) {
      if (host !== '' || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
      this.socket = await this.bind('udp4', '0.0.0.0');
    }
  }

  private bind(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({ type, ipv6Only: false, reuseAddr: false });
      const fail = (err: Error) => {
        s.close();
        reject(err);
      };
      s.once('error', fail);
      s.bind({ port: this.spec.port, address, exclusive: true }, () => {
        s.off('error', fail);
        s.on('error', (err) => this.opts.onWarning?.(`udp ${this.spec.text}: ${err.message}`));
        this.boundPort = s.address().port;
        this.tuneBuffer(s);
        const localPort = this.boundPort;
        s.on('message', (msg, rinfo) => {
          const key = `${rinfo.address}|${rinfo.port}`;
          let session = this.sessions.get(key);
          if (session === undefined) {
            if (this.sessions.size > 100_000) this.sessions.clear(); // bounded under address floods
            session = makeSession('udp', plainAddress(rinfo.address), rinfo.port, localPort);
            this.sessions.set(key, session);
          }
          this.handler(msg, session, Date.now());
        });
        resolve(s);
      });
    });
  }

  private tuneBuffer(s: dgram.Socket): void {
    const want = this.opts.receiveBufferBytes ?? 32 * 1024 * 1024;
    try {
      s.setRecvBufferSize(want);
      // Linux reports double the granted size (bookkeeping overhead is included).
      const got = s.getRecvBufferSize() / 2;
      if (got < want) {
        this.opts.onWarning?.(
          `udp ${this.spec.text}: receive buffer is ${Math.round(got / 1024)} KiB, not the ${Math.round(want / 1024)} KiB asked for; ` +
            `raise net.core.rmem_max (sysctl -w net.core.rmem_max=${want}) to avoid drops under bursts`,
        );
      }
    } catch (err) {
      this.opts.onWarning?.(`udp ${this.spec.text}: cannot set receive buffer: ${(err as Error).message}`);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket === undefined) return resolve();
      this.socket.close(() => resolve());
      this.socket = undefined;
    });
  }
}

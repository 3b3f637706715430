import net from 'node:net';
import { makeSession, type TransportSession } from '../wire/batch.js';
import { IpfixStreamFramer } from '../wire/framing.js';
import { plainAddress, type ListenSpec } from './listen-uri.js';
import type { DatagramHandler } from './udp.js';

export interface TcpSourceHooks {
  /** The connection ended: its templates end with it (RFC 7011 8.1). */
  readonly onClose?: (session: TransportSession) => void;
  readonly onWarning?: (msg: string) => void;
  /** Decides per connection whether to take it (remote_addrs); a refused connection is closed at once. */
  readonly accept?: (address: string) => boolean;
  /** Splits the byte stream into messages; default: IPFIX messages (RFC 7011 10.4). */
  readonly framer?: () => StreamFramer;
}

export interface StreamFramer {
  push(chunk: Buffer): { messages: Buffer[]; error?: string };
  /** Messages left when the peer ends the stream (a last line without a newline). */
  end?(): Buffer[];
}

/** IPFIX over TCP (RFC 7011 10.4): each connection is a transport session of framed messages. */
export class TcpSource {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  boundPort = 0;

  constructor(
    readonly spec: ListenSpec,
    private readonly handler: DatagramHandler,
    private readonly hooks: TcpSourceHooks = {},
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((sock) => this.accept(sock));
      server.once('error', reject);
      const opts: net.ListenOptions = { port: this.spec.port, exclusive: true };
      if (this.spec.host !== '') opts.host = this.spec.host;
      server.listen(opts, () => {
        server.off('error', reject);
        const a = server.address();
        this.boundPort = typeof a === 'object' && a !== null ? a.port : this.spec.port;
        this.server = server;
        resolve();
      });
    });
  }

  private accept(sock: net.Socket): void {
    const address = plainAddress(sock.remoteAddress ?? '?');
    if (this.hooks.accept && !this.hooks.accept(address)) {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    const session = makeSession('tcp', address, sock.remotePort ?? 0, this.boundPort);
    const framer: StreamFramer = this.hooks.framer ? this.hooks.framer() : new IpfixStreamFramer();
    sock.on('data', (chunk: Buffer) => {
      const { messages, error } = framer.push(chunk);
      const now = Date.now();
      for (const m of messages) this.handler(m, session, now);
      if (error !== undefined) {
        this.hooks.onWarning?.(`tcp ${session.address}:${session.port}: ${error}; closing the connection`);
        sock.destroy();
      }
    });
    sock.on('error', (err) => this.hooks.onWarning?.(`tcp ${session.address}:${session.port}: ${err.message}`));
    sock.on('end', () => {
      const rest = framer.end?.() ?? [];
      const now = Date.now();
      for (const m of rest) this.handler(m, session, now);
    });
    sock.on('close', () => {
      this.sockets.delete(sock);
      this.hooks.onClose?.(session);
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => {
      if (this.server === undefined) return resolve();
      this.server.close(() => resolve());
      this.server = undefined;
    });
  }
}

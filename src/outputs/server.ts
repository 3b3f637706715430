import { createServer, type Server, type Socket } from 'node:net';
import { BLOCKING_BOUND_BYTES, NONBLOCKING_BOUND_BYTES, countDrop, countLines, newCounters, type Output, type OutputLog } from './output.js';

interface Client {
  readonly socket: Socket;
  readonly who: string;
  dropped: number;
}

/**
 * `server`: a TCP server pushing every line to every connected client. Each client has its own
 * queue bound (the socket's buffered bytes): a client that reads too slowly loses lines (counted,
 * reason `slow-client`, or `blocking-bound` with `blocking`) while the others get everything.
 * write() only ever receives whole lines, so a client that connects mid-stream starts at a line
 * boundary, and a dropped chunk is whole lines too.
 */
export class ServerOutput implements Output {
  readonly counters = newCounters();
  private readonly clients = new Set<Client>();
  private server: Server | undefined;
  private readonly bound: number;

  constructor(
    readonly name: string,
    private readonly opts: { host: string; port: number; blocking: boolean; boundBytes?: number },
    private readonly log: OutputLog = () => {},
  ) {
    this.bound = opts.boundBytes ?? (opts.blocking ? BLOCKING_BOUND_BYTES : NONBLOCKING_BOUND_BYTES);
  }

  /** The bound port (useful with port 0). */
  port = 0;

  get clientCount(): number {
    return this.clients.size;
  }

  async open(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.host || undefined, port: this.opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log('error', `${this.name}: ${err.message}`));
    const a = server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : this.opts.port;
    this.server = server;
  }

  private accept(socket: Socket): void {
    const c: Client = { socket, who: `${socket.remoteAddress}:${socket.remotePort}`, dropped: 0 };
    socket.setNoDelay(true);
    this.clients.add(c);
    this.log('info', `${this.name}: client ${c.who} connected`);
    const gone = () => {
      if (!this.clients.delete(c)) return;
      this.log('info', `${this.name}: client ${c.who} disconnected${c.dropped ? ` (${c.dropped} lines dropped for it)` : ''}`);
    };
    socket.on('error', gone);
    socket.on('close', gone);
    socket.on('end', () => socket.end());
    socket.on('data', () => {}); // clients have nothing to say; keep the socket flowing
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0 || this.clients.size === 0) return;
    const lines = countLines(bytes);
    for (const c of this.clients) {
      if (c.socket.destroyed) continue;
      if (c.socket.writableLength > this.bound) {
        c.dropped += lines;
        countDrop(this.counters, bytes, this.opts.blocking ? 'blocking-bound' : 'slow-client');
        continue;
      }
      c.socket.write(bytes);
      this.counters.written += lines;
    }
  }

  /** Stops accepting, gives clients up to 5 s to take what is queued, then closes them. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.all(
      [...this.clients].map(
        (c) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              c.socket.destroy();
              resolve();
            }, 5000);
            c.socket.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            c.socket.end();
          }),
      ),
    );
    await closed;
  }
}

/** A listener address given as `udp://HOST:PORT` or `tcp://HOST:PORT` (IPv6 hosts in brackets). */
import { SluiceError } from '../util/errors.js';
export interface ListenSpec {
  readonly transport: 'udp' | 'tcp';
  /** Host to bind; '' means every address, IPv4 and IPv6. */
  readonly host: string;
  readonly port: number;
  readonly text: string;
}

export function parseListenUri(text: string): ListenSpec {
  const m = /^(udp|tcp):\/\/(\[[^\]]*\]|[^:/]*)?:(\d+)\/?$/i.exec(text.trim());
  if (m === null) throw new SluiceError('usage', `--listen "${text}": expected udp://HOST:PORT or tcp://HOST:PORT (HOST may be empty, or [IPv6] in brackets)`);
  const port = Number(m[3]);
  if (port > 65535) throw new SluiceError('usage', `--listen "${text}": port ${port} is out of range 0-65535 (0 picks a free port)`);
  let host = m[2] ?? '';
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === '*') host = '';
  return { transport: m[1]!.toLowerCase() as 'udp' | 'tcp', host, port, text };
}

/** Skylight's and the IANA/common flow ports, and sFlow's 6343 (every port takes every protocol). */
export const DEFAULT_LISTEN: readonly string[] = ['udp://:2055', 'udp://:4739', 'udp://:9995', 'udp://:9555', 'udp://:6343'];

/** Strips the IPv4-mapped prefix a dual-stack socket reports, so exporters look the same either way. */
export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * Live capture through libpcap, by the optional `cap` npm package (a native addon built against
 * libpcap). It is an optionalDependency: `npm ci` succeeds without libpcap, and only
 * `sluice probe --interface` needs it, so it is loaded on first use and a missing build is
 * explained instead of crashing.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { LinkType } from '../wire/packet/parse.js';

export interface LiveCapture {
  /** The interface's index (ifIndex) as the kernel numbers it; 0 when unknown. */
  readonly ifIndex: number;
  onPacket(cb: (linkType: number, data: Buffer, tsMs: number) => void): void;
  close(): void;
}

export const LIBPCAP_HELP =
  'live capture needs the optional "cap" package, built against libpcap: on Debian/Ubuntu run ' +
  '`apt-get install libpcap-dev build-essential python3` and then `npm install cap` in the sluice directory ' +
  '(or reinstall sluice with optional dependencies); reading --pcap files needs none of this';

/** cap's link type names -> LINKTYPE_ numbers. */
const LINK_TYPES: Record<string, number> = {
  ETHERNET: LinkType.ETHERNET,
  NULL: LinkType.NULL,
  RAW: LinkType.RAW,
  IEEE802_11: 105,
  LINUX_SLL: LinkType.LINUX_SLL,
  LINUX_SLL2: LinkType.LINUX_SLL2,
  LOOP: LinkType.LOOP,
  IPV4: LinkType.IPV4,
  IPV6: LinkType.IPV6,
};

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  setMinBytes?(n: number): void;
  on(ev: 'packet', cb: (nbytes: number, truncated: boolean) => void): void;
  close(): void;
}
interface CapModule {
  Cap: new () => CapInstance;
}

function loadCap(): CapModule {
  const require = createRequire(import.meta.url);
  try {
    return require('cap') as CapModule;
  } catch (err) {
    throw new Error(`${LIBPCAP_HELP} (loading "cap" failed: ${(err as Error).message.split('\n')[0]})`);
  }
}

function ifIndexOf(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export async function openLiveCapture(device: string, filter: string | undefined, log: (line: string) => void): Promise<LiveCapture> {
  const { Cap } = loadCap();
  const c = new Cap();
  // One frame at a time is copied out of this buffer by the callback; 256 KiB holds any frame.
  const buffer = Buffer.alloc(262144);
  let linkName: string;
  try {
    linkName = c.open(device, filter ?? '', 16 * 1024 * 1024, buffer);
  } catch (err) {
    throw new Error(`cannot capture on ${device}: ${(err as Error).message} (capturing needs root or CAP_NET_RAW)`);
  }
  c.setMinBytes?.(0);
  const linkType = LINK_TYPES[linkName];
  if (linkType === undefined) throw new Error(`interface ${device} has link type ${linkName}, which the probe does not decode`);
  log(`capturing on ${device} (link type ${linkName})${filter ? ` with filter "${filter}"` : ''}`);
  return {
    ifIndex: ifIndexOf(device),
    onPacket(cb) {
      // cap reports no capture timestamp: the receive time stands in for it.
      c.on('packet', (nbytes) => cb(linkType, buffer.subarray(0, nbytes), Date.now()));
    },
    close() {
      c.close();
    },
  };
}

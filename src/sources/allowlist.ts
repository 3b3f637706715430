import net from 'node:net';

/**
 * `remote_addrs`: the exporters a connector accepts, as addresses and CIDR prefixes (IPv4 and
 * IPv6). Backed by node's BlockList, which matches an IPv4 address against IPv4 rules and an IPv6
 * address against IPv6 rules; an IPv4-mapped IPv6 sender (::ffff:10.0.0.1) is checked as IPv4.
 */
export class Allowlist {
  private readonly list = new net.BlockList();
  readonly size: number;

  /** `entries` were validated by the config schema; a bad entry throws here. */
  constructor(readonly entries: readonly string[]) {
    for (const e of entries) {
      const [addr, len] = e.split('/');
      const type = net.isIPv6(addr!) ? 'ipv6' : 'ipv4';
      if (len === undefined) this.list.addAddress(addr!, type);
      else this.list.addSubnet(addr!, Number(len), type);
    }
    this.size = entries.length;
  }

  allows(address: string): boolean {
    const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    const type = net.isIPv6(a) ? 'ipv6' : 'ipv4';
    try {
      return this.list.check(a, type);
    } catch {
      return false; // not an address at all
    }
  }
}

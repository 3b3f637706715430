/**
 * What source spoofing needs of the native addon (src/sources/native-addon.ts), with errors that
 * say what is missing and how to fix it.
 */
import { loadNativeAddon, type NativeAddon } from '../sources/native-addon.js';
import type { Family } from '../wire/packet/addr.js';
import { SluiceError } from '../util/errors.js';

/** Why spoofing cannot work here, phrased for the person starting the relay. */
export class SpoofUnavailableError extends SluiceError {
  constructor(
    message: string,
    readonly reason: 'no-addon' | 'no-privilege' | 'unsupported',
  ) {
    super('spoof-unavailable', message);
  }
}

/** The addon, or a SpoofUnavailableError that says how to get it. */
export function addonForSpoofing(): NativeAddon {
  const a = loadNativeAddon();
  if (!(a instanceof Error)) return a;
  throw new SpoofUnavailableError(
    `source spoofing (-S or a /S receiver) needs sluice's native addon, which could not be loaded: ${a.message}. ` +
      'Build it with `npm run build:native` (needs python3, make, a C compiler and the Node headers, e.g. Debian libnode-dev), ' +
      'or drop -S and /S to relay from this host\'s own address.',
    'no-addon',
  );
}

/** Opens a raw socket of the family, turning a missing privilege into a SpoofUnavailableError. */
export function openRawSocket(addon: NativeAddon, family: Family, sendBufferBytes: number): number {
  try {
    return addon.open(family, sendBufferBytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') {
      throw new SpoofUnavailableError(
        `source spoofing (-S or a /S receiver) needs raw sockets, which this process may not open (${(err as Error).message}). ` +
          'Run sluice relay as root, or give node the capability: sudo setcap cap_net_raw+ep "$(readlink -f "$(command -v node)")" ' +
          '(under systemd: AmbientCapabilities=CAP_NET_RAW).',
        'no-privilege',
      );
    }
    throw new SpoofUnavailableError(`source spoofing over IPv${family} is not available here: ${(err as Error).message}`, 'unsupported');
  }
}

/** strftime over a UTC time for the escapes file outputs use: %Y %m %d %H %M %S %j and %%. */
import { SluiceError } from '../util/errors.js';
export function strftimeUtc(pattern: string, ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return pattern.replace(/%([YmdHMSj%])/g, (_, c: string) => {
    switch (c) {
      case 'Y':
        return String(d.getUTCFullYear()).padStart(4, '0');
      case 'm':
        return p2(d.getUTCMonth() + 1);
      case 'd':
        return p2(d.getUTCDate());
      case 'H':
        return p2(d.getUTCHours());
      case 'M':
        return p2(d.getUTCMinutes());
      case 'S':
        return p2(d.getUTCSeconds());
      case 'j': {
        const day = Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
        return String(day).padStart(3, '0');
      }
      default:
        return '%';
    }
  });
}

/** Rejects escapes other than those strftimeUtc knows, naming the bad one. */
export function checkStrftime(pattern: string): void {
  const m = /%([^YmdHMSj%]|$)/.exec(pattern.replace(/%%/g, ''));
  if (m) throw new SluiceError('usage', `unsupported strftime escape "%${m[1]}" (supported: %Y %m %d %H %M %S %j %%)`);
}

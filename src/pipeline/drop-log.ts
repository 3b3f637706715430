import { RateLimitedLog } from '../util/rate-limited-log.js';
import type { DropEvent } from '../wire/stats.js';

/** One log line per (reason, exporter) every 10 s, with the number held back. */
export function dropLogger(write: (line: string) => void): (ev: DropEvent) => void {
  const rl = new RateLimitedLog((msg, suppressed) => write(suppressed > 0 ? `${msg} (${suppressed} similar suppressed)` : msg));
  return (ev) => {
    const who = `${ev.session.address}:${ev.session.port}`;
    rl.log(`${ev.reason}|${who}`, `drop ${ev.reason} from ${who} at offset ${ev.offset}: ${ev.detail}`);
  };
}

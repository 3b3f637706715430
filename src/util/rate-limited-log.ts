/**
 * Lets one line per key through every `intervalMs`, and reports how many were held back, so a flood
 * of bad datagrams shows up in the log without drowning it.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly emit: (msg: string, suppressed: number) => void,
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1000,
  ) {}

  log(key: string, msg: string, nowMs: number = Date.now()): void {
    const e = this.last.get(key);
    if (e !== undefined && nowMs - e.at < this.intervalMs) {
      e.suppressed++;
      return;
    }
    if (e === undefined && this.last.size >= this.maxKeys) this.last.clear();
    this.emit(msg, e?.suppressed ?? 0);
    this.last.set(key, { at: nowMs, suppressed: 0 });
  }
}

/**
 * A store writer in a child process, for kill -9 tests. Started as
 *   node --import tsx test/store/helpers/append-child.ts '<json config>'
 * it opens the store, then appends flow blocks in a loop (row ids in `domain`, counting up from
 * `firstId`; one row per 100 ms of time_received, so every flush spans a few hour partitions) with
 * the flush timer and background compaction running, and reports on stdout, as JSON lines:
 *   {"ev":"opened"}                                  the store is open (crash leftovers handled)
 *   {"ev":"flushed","written":W,"appended":A,"flushes":N}   rows durably on disk so far, rows taken so far
 * It stops appending after `maxRows` (a bound; the test kills it long before).
 */
import type { Log } from '../../../src/model/contracts.js';
import { BlockBuilder } from '../../../src/store/columns.js';
import { StoreWriter } from '../../../src/store/writer.js';

interface ChildConfig {
  readonly dir: string;
  readonly firstId: number;
  readonly flushIntervalMs: number;
  readonly blockRows: number;
  readonly paceMs: number;
  readonly maxRows: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const emit = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
const line = (level: string) => (obj: object, msg?: string) => void process.stderr.write(`${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
const log: Log = { debug: () => undefined, info: line('info'), warn: line('warn'), error: line('error') };
const BASE = Date.UTC(2024, 0, 1);

const w = await StoreWriter.open(cfg.dir, {
  log,
  flushIntervalMs: cfg.flushIntervalMs,
  maintenanceIntervalMs: 50,
  replacedGraceMs: 0,
  compaction: { minSegments: 3, closeAfterMs: 0 },
});
emit({ ev: 'opened' });

const b = new BlockBuilder('flows');
const ix = (n: string): number => b.layout.index.get(n)!;
const c = { recv: ix('time_received'), exporter: ix('exporter'), domain: ix('domain'), kind: ix('kind'), sampling: ix('sampling'), packets: ix('packets') };
const exporter = new Uint8Array([127, 0, 0, 1]);
let id = cfg.firstId;
let written = -1;
let flushes = 0;

const report = setInterval(() => {
  const st = w.stats();
  if (st.rowsWritten === written) return;
  written = st.rowsWritten;
  flushes++;
  emit({ ev: 'flushed', written, appended: st.rowsAppended, flushes });
}, 5);

function appendOne(): void {
  if (id - cfg.firstId >= cfg.maxRows) {
    clearInterval(report);
    void w.close();
    return;
  }
  for (let i = 0; i < cfg.blockRows; i++, id++) {
    const r = b.addRow();
    b.timestamp(c.recv, r, BASE + id * 100);
    b.address(c.exporter, r, exporter, 0, 4);
    b.u32(c.domain, r, id);
    b.kind(c.kind, r, 'ipfix');
    b.u32(c.sampling, r, 1);
    b.u64(c.packets, r, id);
  }
  w.append(b.take());
  setTimeout(appendOne, cfg.paceMs);
}
appendOne();

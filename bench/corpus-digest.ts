/**
 * SHA-256 of what `sluice decode` prints for every capture and raw payload file under
 * test/fixtures, under option sets that reach every formatter branch. It drives the command line
 * only, so it runs unchanged in any checkout: run it before and after a change and compare.
 *
 *   node --import tsx bench/corpus-digest.ts [--verbose]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const verbose = process.argv.includes('--verbose');

const OPTION_SETS = [
  'json',
  'json,timestamp=unix,protocol=raw,tcpFlags=raw,ignoreUnknown=false,ignoreOptions=false,templateInfo=true',
  'json,detailedInfo=true,numericNames=true,splitBiflow=true,octetArrayAsUint=false,nonPrintableChar=false,ignoreOptions=false',
];

/**
 * Raw payload files carry no capture time, so decode stamps them with the clock (sFlow records
 * take their times from it): a fixed clock makes the output a function of the input alone.
 */
const FIXED_CLOCK = `data:text/javascript,${encodeURIComponent('Date.now = () => 1704067300000;')}`;

/** Files decoded together (in name order, so templates carry from file to file), one group per folder. */
function groups(): string[][] {
  const byDir = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== '_derived' && name !== 'golden' && name !== 'expected') walk(p);
        continue;
      }
      if (!/\.(pcap|pcapng|dat|bin)$/.test(name)) continue;
      const list = byDir.get(dir) ?? [];
      list.push(p);
      byDir.set(dir, list);
    }
  };
  walk(join(root, 'test', 'fixtures'));
  const out: string[][] = [];
  for (const files of byDir.values()) {
    // Captures carry their own addresses and times: each is its own group. Raw files share one session.
    const pcaps = files.filter((f) => /\.pcap(ng)?$/.test(f));
    for (const p of pcaps) out.push([p]);
    const raw = files.filter((f) => !/\.pcap(ng)?$/.test(f));
    if (raw.length > 0) out.push(raw);
  }
  return out;
}

const all = groups();
for (const opts of OPTION_SETS) {
  const total = createHash('sha256');
  let lines = 0;
  for (const files of all) {
    const r = spawnSync(process.execPath, ['--import', FIXED_CLOCK, '--import', 'tsx', join(root, 'src/cli/main.ts'), 'decode', '--quiet', '-f', opts, ...files], {
      cwd: root,
      maxBuffer: 1 << 30,
      env: { ...process.env, TZ: 'UTC' },
    });
    const h = createHash('sha256').update(r.stdout).digest('hex');
    total.update(`${relative(root, files[0]!)}:${h}:${r.status}\n`);
    lines += r.stdout.toString('utf8').split('\n').length - 1;
    if (verbose) console.log(`  ${h.slice(0, 16)} ${r.status} ${relative(root, dirname(files[0]!))} (${files.length} file(s))`);
  }
  console.log(`${opts} groups ${all.length} lines ${lines} digest ${total.digest('hex').slice(0, 16)}`);
}

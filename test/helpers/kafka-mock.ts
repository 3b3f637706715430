/**
 * A real Kafka broker for tests and the bench: librdkafka's mock cluster, started through Debian's
 * kcat. `kcat -b x:9092 -X test.mock.num.brokers=1 -C -t TOPIC` ignores the bootstrap address,
 * starts an in-process mock cluster (creating TOPIC, 4 partitions) and logs
 * `Mock cluster enabled: ... replaced with 127.0.0.1:PORT` on stderr; the cluster lives as long
 * as that kcat runs. Records are read back with a second kcat consumer (`-o beginning -e`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export function haveKcat(): boolean {
  const r = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
  return r.status === 0 && /librdkafka/.test(r.stdout + r.stderr);
}

export interface MockCluster {
  /** host:port of the mock broker. */
  readonly bootstrap: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a one-broker mock cluster holding `topic`. */
export function startMockCluster(topic: string, timeoutMs = 10_000): Promise<MockCluster> {
  const proc = spawn('kcat', ['-b', 'x:9092', '-X', 'test.mock.num.brokers=1', '-C', '-t', topic, '-o', 'end', '-q'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 2000).unref();
    });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`kcat mock cluster did not report its address within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kcat exited (${code}) before reporting the mock cluster address: ${err}`));
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      const m = /replaced with (\S+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ bootstrap: m[1]!.replace(/,.*$/, ''), proc, stop });
      }
    });
  });
}

export interface ConsumedRecord {
  partition: number;
  value: string;
}

/** Everything in `topic` from the beginning, read with kcat until the end of every partition. */
export function consumeAll(bootstrap: string, topic: string, timeoutMs = 30_000): Promise<ConsumedRecord[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\\t%S\\t%s\\n'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`kcat consumer timed out: ${err}`));
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`kcat consumer exited ${code}: ${err}`));
      // "partition<TAB>size<TAB>value<LF>": the size delimits the value, which may hold newlines.
      const buf = Buffer.concat(out);
      const recs: ConsumedRecord[] = [];
      let pos = 0;
      while (pos < buf.length) {
        const t1 = buf.indexOf(9, pos);
        const t2 = buf.indexOf(9, t1 + 1);
        if (t1 < 0 || t2 < 0) return reject(new Error(`kcat consumer: unparsable output at byte ${pos}`));
        const size = Number(buf.subarray(t1 + 1, t2).toString('latin1'));
        const start = t2 + 1;
        recs.push({ partition: Number(buf.subarray(pos, t1).toString('latin1')), value: buf.subarray(start, start + size).toString('utf8') });
        pos = start + size + 1;
      }
      resolve(recs);
    });
  });
}

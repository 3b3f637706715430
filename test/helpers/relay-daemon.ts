import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Runs `sluice relay -f ...`; the foreground process exits once the background one listens. */
export function startRelayDaemon(args: string[]): Promise<{ code: number | null; stderr: string; pid?: number; port?: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'relay', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const m = /background as pid (\d+) \(port (\d+)\)/.exec(err);
      resolve(m ? { code, stderr: err, pid: Number(m[1]), port: Number(m[2]) } : { code, stderr: err });
    });
  });
}

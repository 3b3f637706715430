import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Mounts a tmpfs of `kb` KiB at a new directory for a full-disk test (unmounted after it), or
 * returns undefined when this machine does not allow mounting (tests then skip, saying so).
 */
export function smallDisk(t: { after(fn: () => void): void }, kb: number): string | undefined {
  const mnt = mkdtempSync(join(tmpdir(), 'sluice-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    rmSync(mnt, { recursive: true, force: true });
    return undefined;
  }
  t.after(() => {
    try {
      execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(mnt, { recursive: true, force: true });
  });
  return mnt;
}

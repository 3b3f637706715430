/** Resolves with the name of the first SIGINT or SIGTERM: how every long-running command is stopped. */
export function untilSignal(): Promise<'SIGINT' | 'SIGTERM'> {
  return new Promise((resolve) => {
    const on = (sig: 'SIGINT' | 'SIGTERM') => () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      resolve(sig);
    };
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
  });
}

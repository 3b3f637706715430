import { readFileSync } from 'node:fs';
import { tokenOrBasicAuth, type Authenticator } from './server.js';
import { SluiceError } from '../util/errors.js';

/**
 * `--auth VALUE`: a file of credentials, one per line (`user:password` for HTTP Basic, or a bare
 * token for `Authorization: Bearer`; `#` starts a comment), or, when VALUE is not a file, the token
 * itself. The secrets are read once and never logged.
 */
export function loadAuth(value: string): Authenticator {
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || value.includes('/')) throw new SluiceError('usage', `cannot read the auth file: ${(err as Error).message}`);
    text = value;
  }
  const tokens: string[] = [];
  const users = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) users.set(line.slice(0, i), line.slice(i + 1));
    else tokens.push(line);
  }
  if (tokens.length === 0 && users.size === 0) throw new SluiceError('usage', 'the auth file holds no token and no user:password line');
  return tokenOrBasicAuth(tokens, users);
}

/**
 * One error base class: every error class of src/ that reports an input problem extends
 * SluiceError (a stable code, a position where the input has one). The few plain Error
 * subclasses are named here with why they are not input errors, so a new one must be justified.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import { ERROR_CODES, SluiceError } from '../../src/util/errors.js';
import { FilterError, QueryTimeoutError, QueryUsageError, SqlRefusedError, WindowError } from '../../src/query/errors.js';
import { StoreFormatError, StoreLockedError } from '../../src/store/store-file.js';
import { TemplateSnapshotError } from '../../src/wire/template-store.js';
import { ApiError } from '../../src/api/params.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Plain Error subclasses, each a bug report or an internal wrapper rather than an input problem. */
const PLAIN: Readonly<Record<string, string>> = {
  'util/errors.ts SluiceError': 'the base class itself',
  'store/block-chunk.ts BadBlockError': 'a block that does not match its layout is a bug upstream',
  'store/segment-write.ts WriteFailure': 'carries a write failure and the rows written up to the writer, which reports it',
  'api/v1.ts TimedFailure': 'carries a failure and its duration inside the API handler',
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('error classes extend SluiceError, apart from the listed internal ones', () => {
  const plain: string[] = [];
  for (const f of files(SRC)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/class (\w+) extends Error\b/g)) plain.push(`${relative(SRC, f)} ${m[1]}`);
  }
  assert.deepEqual(plain.sort(), Object.keys(PLAIN).sort());
});

test('input errors carry their code, and the filter its column', () => {
  const cases: [SluiceError, string][] = [
    [new FilterError('proto tpc', 7, 'unknown protocol'), 'filter'],
    [new WindowError('-1x', 3, 'unknown unit'), 'query'],
    [new QueryUsageError('x'), 'query'],
    [new SqlRefusedError('x'), 'query'],
    [new QueryTimeoutError(1000), 'query'],
    [new StoreFormatError('x'), 'store'],
    [new StoreLockedError('x'), 'store'],
    [new TemplateSnapshotError('$.sessions[0]', 'x'), 'state'],
    [new ApiError(400, 'x'), 'api'],
  ];
  for (const [e, code] of cases) {
    assert.ok(e instanceof SluiceError, e.name);
    assert.equal(e.code, code, e.name);
    assert.ok(code in ERROR_CODES);
  }
  assert.equal(new FilterError('proto tpc', 7, 'unknown protocol').position.column, 7);
  assert.equal(new FilterError('a', 1, 'b').name, 'FilterError');
});

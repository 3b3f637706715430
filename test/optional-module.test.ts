import assert from 'node:assert/strict';
import test from 'node:test';
import { loadOptional } from '../src/util/optional-module.js';

test('an optional module that is missing, or lacks its export, is refused with what is missing', async () => {
  await assert.rejects(loadOptional(new URL('./no-such-module.js', import.meta.url), 'the Frobnicator output', 'create'), /^SluiceError: the Frobnicator output is not available in this build \(.*no-such-module/);
  await assert.rejects(loadOptional(new URL('../src/util/optional-module.js', import.meta.url), 'the Frobnicator output', 'create'), /the Frobnicator output is not available in this build \(no create\)/);
  const m = await loadOptional<{ loadOptional: unknown }>(new URL('../src/util/optional-module.js', import.meta.url), 'itself', 'loadOptional');
  assert.equal(typeof m.loadOptional, 'function');
});

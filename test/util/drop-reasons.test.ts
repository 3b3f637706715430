import assert from 'node:assert/strict';
import test from 'node:test';
import { RELAY_DROP_REASONS } from '../../src/relay/index.js';
import { DROP_REASONS, dropReasonsOf } from '../../src/util/drop-reasons.js';
import { ERROR_CODES, SluiceError } from '../../src/util/errors.js';
import { CaptureFormatError } from '../../src/wire/pcap/read.js';
import { ConfigError } from '../../src/util/yaml-config.js';

test('one drop-reason vocabulary: every reason documented, stages partition what each part counts', () => {
  for (const [name, r] of Object.entries(DROP_REASONS)) {
    assert.match(name, /^[a-zA-Z-]+$/, 'reasons are metric label values');
    assert.ok(r.doc.length > 10, `${name} is documented`);
    assert.ok(r.stages.length > 0);
  }
  assert.deepEqual(RELAY_DROP_REASONS, ['unreachable', 'too-big', 'queue-full', 'buffer-full', 'family-mismatch', 'send-error']);
  assert.ok(dropReasonsOf('decode').includes('missing-template'));
  assert.ok(dropReasonsOf('output').includes('send-error') && dropReasonsOf('relay').includes('send-error'));
  assert.ok(!(dropReasonsOf('decode') as string[]).includes('overflow'));
});

test('one error base class: stable codes and positions', () => {
  const e = new CaptureFormatError('bad block', 24);
  assert.ok(e instanceof SluiceError);
  assert.equal(e.code, 'capture-format');
  assert.equal(e.position.offset, 24);
  assert.equal(e.name, 'CaptureFormatError');
  const c = new ConfigError('x.yaml', ['x.yaml:3:5: outputs.0.type: bad']);
  assert.equal(c.code, 'config');
  assert.equal(c.position.file, 'x.yaml');
  for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^[a-z-]+$/);
});

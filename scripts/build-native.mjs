#!/usr/bin/env node
// Builds the optional N-API addon (native/, binding.gyp) with node-gyp against the Node headers already
// on this machine. Runs as the package's `install` script, so `npm ci` builds it; it never fails the
// install: without the addon everything works except `sluice relay -S` (source spoofing), which then
// says at start that the addon is missing and how to build it (`npm run build:native`).
//
// Nothing is downloaded: node-gyp gets --nodedir pointing at local headers (npm's `nodedir` setting
// when present, else the include/node directory next to the running node), and the build is skipped
// with a message when no headers are found.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict'); // npm run build:native: a failure is an error
const say = (msg) => process.stderr.write(`sluice native addon: ${msg}\n`);
const give = (msg) => {
  say(msg);
  say('without it, `sluice relay` works but cannot spoof source addresses (-S); fix the cause and run `npm run build:native`');
  process.exit(strict ? 1 : 0);
};

if (process.env.SLUICE_SKIP_NATIVE === '1') give('skipped (SLUICE_SKIP_NATIVE=1)');
if (process.platform !== 'linux') give(`not built: raw-socket spoofing is implemented for Linux only (this is ${process.platform})`);

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(prefix, 'share', 'nodejs', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => existsSync(p));
}

function findNodeDir() {
  const configured = process.env.npm_config_nodedir;
  const candidates = [configured, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi')));
}

const gyp = findNodeGyp();
if (gyp === undefined) give('not built: node-gyp not found (it ships with npm; set npm_config_node_gyp to its bin/node-gyp.js)');
const nodedir = findNodeDir();
if (nodedir === undefined) give(`not built: no Node headers found (include/node/node_api.h under npm's nodedir or ${resolve(dirname(process.execPath), '..')}); install them (Debian: libnode-dev) and rerun`);

const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) give(`build failed (node-gyp exit ${r.status ?? r.signal}); needs python3, make and a C compiler`);
say(`built build/Release/sluice_native.node (headers from ${nodedir})`);
buildKafkaClient();

/**
 * The Kafka output's client, @confluentinc/kafka-javascript (librdkafka), built here rather than by
 * its own install script (package.json allowScripts denies that one): its script would fetch a
 * prebuilt binary, and its static build fetches codec sources. Built from the librdkafka sources
 * inside its npm package, linked against the system's zlib, zstd and lz4 (Debian zlib1g-dev,
 * libzstd-dev, liblz4-dev): nothing is downloaded. Without it everything works except
 * `-o kafka://`, which then says at start that the client is missing and how to build it.
 */
function buildKafkaClient() {
  const dir = join(root, 'node_modules', '@confluentinc', 'kafka-javascript');
  const kafkaSay = (msg) => process.stderr.write(`sluice kafka client: ${msg}\n`);
  if (!existsSync(join(dir, 'binding.gyp'))) return kafkaSay('not installed (an optional dependency); the Kafka output is unavailable');
  if (existsSync(join(dir, 'build', 'Release', 'confluent-kafka-javascript.node')) && process.env.SLUICE_REBUILD_KAFKA !== '1') return kafkaSay('already built');
  if (process.env.SLUICE_SKIP_KAFKA === '1') return kafkaSay('skipped (SLUICE_SKIP_KAFKA=1); the Kafka output is unavailable');
  kafkaSay('building librdkafka from the sources in its package (a few minutes; SLUICE_SKIP_KAFKA=1 skips it)');
  const env = { ...process.env, CKJS_LINKING: 'dynamic' };
  // The compiler's warnings on librdkafka's sources are not ours to fix: shown only when the build fails.
  const k = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (k.status !== 0) {
    process.stderr.write(`${String(k.stdout ?? '').split('\n').slice(-20).join('\n')}\n${String(k.stderr ?? '').split('\n').slice(-40).join('\n')}\n`);
    kafkaSay(`build failed (node-gyp exit ${k.status ?? k.signal}): needs g++, make and the zlib, zstd and lz4 headers (Debian: zlib1g-dev libzstd-dev liblz4-dev); the Kafka output is unavailable`);
    if (strict) process.exit(1);
    return;
  }
  kafkaSay('built');
}

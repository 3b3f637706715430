#!/usr/bin/env -S node --max-semi-space-size=4
// Installed entry point: runs the compiled CLI (npm run build produces dist/).
// --max-semi-space-size=4: V8 grows the main thread's young generation to 32 MiB (two 16 MiB
// semi-spaces) in any long run and does not give it back; the receiving thread keeps little that
// dies young, so 4 MiB costs no measurable speed (decode -f json: 1.12 vs 1.14 s) and saves about
// 25 MiB of RSS (bench/templates.ts fleet row). Decode workers set theirs in collect/worker-pool.ts.
import '../dist/cli/main.js';

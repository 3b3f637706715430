#!/usr/bin/env node
/** The `sluice` program: one commander Command per module of this folder, nothing else. */
import { Command } from 'commander';
import { collectCommand } from './collect.js';
import { decodeCommand } from './decode.js';
import { probeCommand } from './probe.js';
import { queryCommand } from './query.js';
import { relayCommand } from './relay.js';
import { serveCommand } from './serve.js';
import { serviceCommands } from './service.js';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Network flow telemetry: decode NetFlow v5/v7/v9, IPFIX and sFlow v5 onto the IPFIX information model')
    .version('0.1.0')
    .showHelpAfterError()
    // Positional options: `probe --version 9` is the probe's export version, not the program's --version.
    .enablePositionalOptions();
  for (const c of [collectCommand(), decodeCommand(), queryCommand(), serveCommand(), relayCommand(), probeCommand(), ...serviceCommands()]) program.addCommand(c.showHelpAfterError());
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`sluice: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });

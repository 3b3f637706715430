#!/usr/bin/env node
/** The `sluice` program: one commander Command per module of this folder, nothing else. */
import { Command } from 'commander';

/**
 * Each command's module, loaded only when asked for: `sluice query` does not pay for loading the
 * collect engine, the service or the Kafka client (start-up time is part of every query's time).
 */
const COMMANDS: Record<string, () => Promise<Command[]>> = {
  collect: async () => [(await import('./collect.js')).collectCommand()],
  decode: async () => [(await import('./decode.js')).decodeCommand()],
  query: async () => [(await import('./query.js')).queryCommand()],
  serve: async () => [(await import('./serve.js')).serveCommand()],
  relay: async () => [(await import('./relay.js')).relayCommand()],
  probe: async () => [(await import('./probe.js')).probeCommand()],
  service: async () => (await import('./service.js')).serviceCommands(),
};
const SERVICE_COMMANDS = new Set(['run', 'start', 'stop', 'status', 'check-config']);

export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('sluice')
    .description('Network flow telemetry: decode NetFlow v5/v7/v9, IPFIX and sFlow v5 onto the IPFIX information model, keep, query and show it')
    .version('0.1.0')
    .showHelpAfterError()
    // Positional options: `probe --version 9` is the probe's export version, not the program's --version.
    .enablePositionalOptions();
  const name = argv[2] ?? '';
  const key = SERVICE_COMMANDS.has(name) ? 'service' : name;
  // A known command: only its module; anything else (help, a typo): all of them, so help lists every one.
  const loaders = COMMANDS[key] !== undefined ? [COMMANDS[key]] : Object.values(COMMANDS);
  for (const load of loaders) for (const c of await load()) program.addCommand(c.showHelpAfterError());
  return program;
}

buildProgram()
  .then((p) => p.parseAsync(process.argv))
  .catch((err: unknown) => {
    process.stderr.write(`sluice: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });

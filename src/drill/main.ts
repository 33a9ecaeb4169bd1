#!/usr/bin/env node
/** Stand-alone entry of the drill: `node dist/drill/main.js [options]`, the same as `ballast drill [options]`. */
import { runDrillCli } from './cli.js';

runDrillCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ballast drill: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(3);
  },
);

#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { checkConfigFile, configJsonSchema, describeConfig, loadConfigFile } from '../config/index.js';
import { ConfigError, formatConfigIssue, isBallastError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import cluster from 'node:cluster';
import { runPrimary, runWorker, workerCount } from '../runtime/cluster.js';
import { Runtime } from '../runtime/runtime.js';


const HELP = `Ballast ${VERSION} — a high-availability load balancer

Usage:
  ballast [demo]                   run the built-in demo (listener 127.0.0.1:8080, dashboard
                                   127.0.0.1:9901, DNS 127.0.0.1:8053; --listen/--admin/--dns move them)
  ballast start -c FILE            run from a config file (SIGHUP reloads, SIGTERM drains and exits)
  ballast validate -c FILE         check a config file; prints FILE:LINE:COL: message per problem
  ballast reload -c FILE           validate FILE, then make the running instance reload it (admin API)
  ballast schema                   print the JSON Schema of the config file
  ballast drill [options]          failover drill: load, faults, detection and recovery report
                                   ("ballast drill --help"; "ballast drill --demo" runs a self-contained one)

Options:
  -c, --config FILE   config file (YAML)
      --listen ADDR   demo listener address (default 127.0.0.1:8080)
      --admin ADDR    demo admin API and dashboard address (default 127.0.0.1:9901)
      --dns ADDR      demo DNS server address (default 127.0.0.1:8053)
  -h, --help          show this help
  -v, --version       print the version

Exit codes: 0 ok, 1 invalid config or runtime failure, 2 usage error.`;

/** Exit codes of the CLI; scripts rely on them. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  // The drill has flags of its own; it parses them itself.
  if (argv[0] === 'drill') {
    const { runDrillCli } = await import('../drill/cli.js');
    return runDrillCli(argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string' },
        admin: { type: 'string' },
        dns: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    process.stderr.write(`ballast: ${(error as Error).message}\n\nRun "ballast --help" for usage.\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  const command = positionals[0] ?? 'demo';
  switch (command) {
    case 'demo':
      return demo(values.listen ?? '127.0.0.1:8080', values.admin ?? '127.0.0.1:9901', values.dns ?? '127.0.0.1:8053');
    case 'start':
      return startCommand(requireConfig(values.config, command));
    case 'validate':
      return validate(requireConfig(values.config, command));
    case 'reload':
      return reloadCommand(requireConfig(values.config, command));
    case 'schema':
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return EXIT_OK;
    default:
      process.stderr.write(`ballast: unknown command "${command}"\n\nRun "ballast --help" for usage.\n`);
      return EXIT_USAGE;
  }
}

class UsageError extends Error {}

function requireConfig(file: string | undefined, command: string): string {
  if (file === undefined) throw new UsageError(`"ballast ${command}" needs -c FILE`);
  return file;
}

/** Prints every problem of an invalid config as FILE:LINE:COL: message. */
function reportConfigError(error: unknown): number {
  if (error instanceof ConfigError) {
    for (const issue of error.issues) process.stderr.write(`${formatConfigIssue(issue)}\n`);
    return EXIT_FAILURE;
  }
  if (isBallastError(error)) {
    process.stderr.write(`ballast: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  throw error;
}

async function validate(file: string): Promise<number> {
  try {
    const result = await checkConfigFile(file);
    for (const warning of result.warnings) process.stderr.write(`${formatConfigIssue({ ...warning, message: `warning: ${warning.message}` })}\n`);
    if (result.config === undefined) {
      for (const issue of result.errors) process.stderr.write(`${formatConfigIssue(issue)}\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(`${describeConfig(result.config)}\n`);
    return EXIT_OK;
  } catch (error) {
    return reportConfigError(error);
  }
}

async function startCommand(file: string): Promise<number> {
  if (cluster.isWorker) return runWorker(file);
  // Installed before the listeners bind, so an early SIGHUP can never fall back to the default action (exit).
  let runtime: Runtime | undefined;
  let onHangup: (() => void) | undefined;
  process.on('SIGHUP', () => onHangup?.());
  let config;
  try {
    config = await loadConfigFile(file);
    const count = workerCount(config);
    if (count > 1) return await runPrimary(file, config, count);
    runtime = await Runtime.start(config);
  } catch (error) {
    if (error instanceof ConfigError || isBallastError(error)) return reportConfigError(error);
    process.stderr.write(`ballast: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const running = runtime;
  onHangup = () => reloadFromFile(running, file);
  return waitForShutdown(() => running.close());
}

/** Validates the file first; an invalid file leaves the running config in place and is logged with its positions. */
function reloadFromFile(runtime: Runtime, file: string): void {
  void runtime.reloadFromSource().then((result) => {
    if (result.ok) runtime.logger.info({ file }, 'config reloaded');
    else runtime.logger.error({ file, issues: result.errors }, 'reload failed; the running config stays');
  });
}

/**
 * `ballast reload -c FILE`: validates the file here (so errors print as
 * FILE:LINE:COL), then asks the running instance to reload through its
 * admin API, which validates again and keeps the old config on failure.
 */
async function reloadCommand(file: string): Promise<number> {
  let config;
  try {
    config = await loadConfigFile(file);
  } catch (error) {
    return reportConfigError(error);
  }
  if (config.admin === undefined) {
    process.stderr.write(`ballast: ${file} has no admin section; send SIGHUP to the running process instead\n`);
    return EXIT_FAILURE;
  }
  const { host, port } = config.admin.listen;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/api/v1/reload`;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: config.admin.token === undefined ? {} : { authorization: `Bearer ${config.admin.token}` },
    });
    const body = (await response.json()) as { ok?: boolean; errors?: string[]; error?: { message?: string } };
    if (response.ok && body.ok === true) {
      process.stdout.write(`${file}: reloaded\n`);
      return EXIT_OK;
    }
    for (const line of body.errors ?? [body.error?.message ?? `HTTP ${response.status}`]) process.stderr.write(`${line}\n`);
    return EXIT_FAILURE;
  } catch (error) {
    process.stderr.write(`ballast: cannot reach the admin API at ${url}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

async function demo(listen: string, admin: string, dns: string): Promise<number> {
  const { runDemo } = await import('./demo.js');
  const running = await runDemo({ listen, admin, dns, print: (line) => process.stdout.write(`${line}\n`) });
  return waitForShutdown(() => running.close());
}

/** Resolves with exit code 0 after SIGTERM/SIGINT once `close` finished; a second signal exits at once. */
function waitForShutdown(close: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(EXIT_FAILURE);
      stopping = true;
      process.stderr.write(`ballast: ${signal} received, draining\n`);
      close().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          process.stderr.write(`ballast: shutdown failed: ${(error as Error).message}\n`);
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`ballast: ${error.message}\n\nRun "ballast --help" for usage.\n`);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(`ballast: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(EXIT_FAILURE);
  },
);

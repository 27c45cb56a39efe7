#!/usr/bin/env node
// Entry point of the `inviteflow` command: registers tsx so the TypeScript sources run as they
// are (like the worker and the API), then hands the process's streams and signals to `run`.
/* global AbortController */
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');

// Ctrl-C cancels the Temporal call in flight and lets the command end cleanly (bulk keeps its
// report resumable); a second one ends the process at once.
const controller = new AbortController();
process.once('SIGINT', () => {
  controller.abort(new Error('interrupted'));
  process.once('SIGINT', () => process.exit(130));
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
});

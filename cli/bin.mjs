#!/usr/bin/env node
// Entry point of the `inviteflow` command: registers tsx so the TypeScript sources run as they
// are (like the worker and the API), then hands the process's streams and signals to `run`.
/* global AbortController */
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();

// A reader that stops early (`inviteflow show <id> | head`) closes the pipe: like other Unix tools,
// end quietly with success instead of an EPIPE stack trace. The rest of the output has nowhere to go.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

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
  // The local stack's settings (`npm run dev` writes them into the checkout's .data/);
  // INVITEFLOW_LOCAL_DATA names another directory, or none when empty.
  localStack: process.env.INVITEFLOW_LOCAL_DATA ?? fileURLToPath(new URL('../.data', import.meta.url)),
  signal: controller.signal,
});

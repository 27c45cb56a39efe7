/**
 * The workflow bundle, built in a short-lived child process. Bundling (webpack) inside the worker
 * leaves about 120 MiB resident for the life of the process, more than a sticky cache of 200
 * sleeping invites takes; built apart, the worker only loads the result (`bench:scale` measures
 * it, bench/README.md). Run as a script, this file is that child: `tsx worker/bundle.ts <out>
 * [<failure converter path>]`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';

/** Path of the workflow entry point the worker bundles. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * Builds the bundle in a child process and answers its code, for `workflowBundle: { code }`; the
 * child's file is removed, so restarts leave nothing behind. `failureConverterPath` must be the
 * data converter's (`temporalDataConverter(cfg)`), or the workflows would encode failures
 * otherwise than the clients read them.
 */
export async function bundleInChildProcess(failureConverterPath: string | undefined): Promise<{ code: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'inviteflow-workflows-'));
  const codePath = join(dir, 'workflow-bundle.js');
  try {
    await promisify(execFile)(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), codePath, ...(failureConverterPath ? [failureConverterPath] : [])],
      { maxBuffer: 16 * 2 ** 20 },
    );
    return { code: readFileSync(codePath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bundleTo(codePath: string, failureConverterPath: string | undefined): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet, ...(failureConverterPath ? { failureConverterPath } : {}) });
  writeFileSync(codePath, code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [codePath, failureConverterPath] = process.argv.slice(2);
  if (!codePath) {
    console.error('usage: tsx worker/bundle.ts <out.js> [<failure converter path>]');
    process.exit(64);
  }
  await bundleTo(codePath, failureConverterPath);
}

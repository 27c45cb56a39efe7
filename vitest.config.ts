import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

// The tests in four layers, each a vitest project that runs alone (`npm run test:<layer>`);
// `npm test` runs them all. A layer is a set of folders, so a test's folder says what it needs:
//
// - unit: no Temporal server (neither started nor looked for), no child process of ours, no
//   browser, nothing outside this process. In-process servers that start in milliseconds (the
//   emulators, a Fastify app, an SMTP catcher, an HTTP receiver on 127.0.0.1) are allowed; so is
//   what a library does inside its own calls (esbuild's build service). The whole layer runs in
//   well under a minute. A test that needs more belongs to another layer. Its files share the
//   worker processes (no isolation, which halves its time): a file restores the fake timers,
//   mocks and environment it changes.
// - workflows: the workflow code on Temporal's own machinery: the time-skipping test server with
//   fake activities, replay of the recorded histories, the versioning check.
// - integration: real Temporal dev servers (or the cluster `TEST_TEMPORAL_ADDRESS` names), the API
//   and CLI in-process against them, entry points as child processes, kills and restarts.
// - e2e: the whole stack driven by Chromium.
//
// Files run in separate processes because several start their own Temporal server, emulators and
// SMTP server on free ports.
const LAYERS = {
  unit: [
    'test/actions',
    'test/activities',
    'test/api',
    'test/cli',
    'test/cluster',
    'test/codec',
    'test/deploy',
    'test/emulators',
    'test/lib',
    'test/reliability',
    'test/setup',
    'test/workflows',
  ],
  workflows: ['test/time-skipping', 'test/replay', 'test/versioning'],
  integration: ['test/integration'],
  e2e: ['test/e2e'],
} as const;

type Layer = keyof typeof LAYERS;

const ROOT = import.meta.dirname;

/** The layer a test file's folder puts it in (undefined if none). */
function layerOf(file: string): Layer[] {
  return (Object.keys(LAYERS) as Layer[]).filter((layer) => LAYERS[layer].some((folder) => file.startsWith(`${folder}/`)));
}

// A test file in no layer would silently never run, one in two would run twice: refuse both.
const misplaced = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => join('test', file).split(sep).join('/'))
  .filter((file) => layerOf(file).length !== 1);
if (misplaced.length > 0) {
  throw new Error(`test files outside exactly one layer (see LAYERS in ${relative(process.cwd(), join(ROOT, 'vitest.config.ts'))}): ${misplaced.join(', ')}`);
}

/** One layer's project: its folders, and the Temporal runtime's quiet logging unless it is `unit`. */
function project(name: Layer): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include: LAYERS[name].map((folder) => `${folder}/**/*.test.ts`),
      // test/support/temporal.ts and ServiceProcess refuse to start a server or a process here.
      ...(name === 'unit' ? { env: { INVITEFLOW_TEST_LAYER: 'unit' }, isolate: false } : { setupFiles: ['test/support/setup.ts'] }),
    },
  };
}

export default defineConfig({
  test: {
    projects: (Object.keys(LAYERS) as Layer[]).map(project),
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

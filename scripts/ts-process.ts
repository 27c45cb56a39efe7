/**
 * Child processes that run a TypeScript entry point the way `tsx` does, but in one process: Node
 * itself with tsx's loader. Spawning the `tsx` CLI puts a wrapper between the parent and the
 * program; a SIGKILL then kills only the wrapper and leaves the program running, orphaned (in the
 * tests, a "killed" worker kept polling and a "killed" API kept its port). Used by `npm run dev`
 * and by the tests that run the worker and the API as processes.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** The command and arguments that run `script` (a path, absolute or from the child's cwd) under tsx's loader. */
export function tsProcess(script: string): [command: string, args: string[]] {
  return [process.execPath, ['--import', TSX_LOADER, script]];
}

/**
 * How the worker process runs everywhere it is started (`npm run worker`, `npm run dev`, the image,
 * docker-compose; `test/deploy/worker-settings.test.ts` holds them to it). A worker of sleeping
 * invites allocates little at a time, so V8's young generation is kept small (its 16 MiB default
 * semi-spaces stay resident in both the main and the workflow thread's heap), and glibc keeps two
 * malloc arenas instead of one per thread of the Temporal core. Measured with `npm run bench:scale`.
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=2'] as const;
export const WORKER_ENV = { MALLOC_ARENA_MAX: '2' } as const;

/** `tsProcess` for the worker, with its Node flags; give it `WORKER_ENV` too. */
export function workerProcess(script = 'worker/main.ts'): [command: string, args: string[]] {
  const [command, args] = tsProcess(script);
  return [command, [...WORKER_NODE_FLAGS, ...args]];
}

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

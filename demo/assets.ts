/**
 * The customer space's browser modules: written in TypeScript next to the server, sent to the
 * browser with their types stripped. esbuild's `transform` works file by file (no bundling), so
 * what the browser runs is the hand-written module, one to one.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

/** The modules under `/assets/`, by the name the browser asks for. */
export const BROWSER_MODULES = ['app.js', 'oidc.js'] as const;

/** Reads and type-strips every browser module once, so a broken module fails the server's start. */
export async function loadBrowserModules(): Promise<Map<string, string>> {
  const modules = new Map<string, string>();
  for (const name of BROWSER_MODULES) {
    const file = fileURLToPath(new URL(`./browser/${name.replace(/\.js$/, '.ts')}`, import.meta.url));
    const source = await readFile(file, 'utf8');
    const { code } = await transform(source, {
      loader: 'ts',
      format: 'esm',
      target: 'es2022',
      sourcefile: file,
    });
    modules.set(name, code);
  }
  return modules;
}

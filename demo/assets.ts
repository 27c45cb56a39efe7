/**
 * The customer space's browser code: `browser/app.ts` bundled by esbuild with what it imports,
 * Auth0's SPA SDK (`@auth0/auth0-spa-js`, its ESM build) included. The app imports the SDK by its
 * package name with its types, exactly as Auth0 customers' SPAs do; bundling resolves that name
 * without an import map (which would be an inline script the CSP must allow) and serves one file.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The bundle under `/assets/`, by the name the browser asks for. */
export const BROWSER_MODULES = ['app.js'] as const;

/** Bundles the app once, so a broken module fails the server's start. */
export async function loadBrowserModules(): Promise<Map<string, string>> {
  const entry = fileURLToPath(new URL('./browser/app.ts', import.meta.url));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    legalComments: 'inline',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text;
  if (code === undefined) throw new Error('esbuild produced no customer-space bundle');
  return new Map([['app.js', code]]);
}

/**
 * Bundles the post-login Action into the one CommonJS file Auth0 runs (`actions/dist/post-login.js`).
 * The bundle must stay self-contained (Node built-ins only) and under Auth0's 100 kB code limit;
 * the build fails otherwise rather than letting a deploy fail later.
 *
 * CLI: `tsx actions/build.ts` writes the file and prints its size.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Source of the Action. */
export const POST_LOGIN_SOURCE = join(HERE, 'post-login.ts');
/** Where `tsx actions/build.ts` writes the bundle. */
export const POST_LOGIN_OUTFILE = join(HERE, 'dist', 'post-login.js');
/** Auth0 refuses Action code larger than this. */
export const ACTION_CODE_LIMIT_BYTES = 100 * 1024;
/** The Node major Auth0's current Actions runtime (`node22`) runs. */
export const ACTION_TARGET = 'node22';

/** A built Action: its code and size in bytes. */
export interface BuiltAction {
  code: string;
  bytes: number;
}

/** Thrown when the bundle breaks a rule Auth0 (or our zero-dependency rule) would enforce. */
export class ActionBuildError extends Error {
  override readonly name = 'ActionBuildError';
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Bundles `entry` (default: the post-login Action) in memory and checks size and imports. */
export async function buildAction(entry: string = POST_LOGIN_SOURCE): Promise<BuiltAction> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    target: ACTION_TARGET,
    format: 'cjs',
    // Readable code in the Auth0 dashboard and execution logs; the size is far below the limit.
    minify: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    banner: {
      js: `// Built by inviteflow actions/build.ts from ${relative(join(HERE, '..'), entry)}. Do not edit.`,
    },
  });
  const output = result.outputFiles[0];
  if (!output) throw new ActionBuildError('esbuild produced no output');

  // Anything but our own source in the bundle is an npm module Auth0 would have to install.
  const foreign = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules'));
  if (foreign.length > 0)
    throw new ActionBuildError(`the Action must not bundle npm modules, found: ${foreign.join(', ')}`);
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  const external = imports.filter((path) => !builtins.has(path));
  if (external.length > 0)
    throw new ActionBuildError(`the Action may only require Node built-ins, found: ${external.join(', ')}`);

  const bytes = output.contents.byteLength;
  if (bytes > ACTION_CODE_LIMIT_BYTES)
    throw new ActionBuildError(
      `the Action is ${bytes} bytes, over Auth0's limit of ${ACTION_CODE_LIMIT_BYTES}`,
    );
  return { code: output.text, bytes };
}

/** Builds the post-login Action and writes it to `outfile`. */
export async function writePostLoginAction(outfile: string = POST_LOGIN_OUTFILE): Promise<BuiltAction> {
  const built = await buildAction(POST_LOGIN_SOURCE);
  await mkdir(dirname(outfile), { recursive: true });
  await writeFile(outfile, built.code);
  return built;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writePostLoginAction()
    .then(({ bytes }) => {
      console.log(
        `wrote ${relative(process.cwd(), POST_LOGIN_OUTFILE)} (${bytes} bytes of ${ACTION_CODE_LIMIT_BYTES})`,
      );
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}

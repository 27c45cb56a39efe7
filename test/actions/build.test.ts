// The build produces what Auth0 accepts: one CommonJS file exporting `onExecutePostLogin`, under
// 100 kB, requiring Node built-ins only; it refuses a bundle that breaks either rule.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION_CODE_LIMIT_BYTES, ActionBuildError, buildAction } from '../../actions/build';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inviteflow-build-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('buildAction', () => {
  it('bundles the post-login Action into CommonJS that exports onExecutePostLogin and requires only node:crypto', async () => {
    const built = await buildAction();

    expect(built.bytes).toBe(Buffer.byteLength(built.code));
    expect(built.bytes).toBeLessThan(ACTION_CODE_LIMIT_BYTES);
    const required: string[] = [];
    const module = { exports: {} as Record<string, unknown> };
    const wrapper = vm.runInNewContext(`(function (exports, require, module) {${built.code}\n})`) as (
      e: unknown,
      r: (name: string) => unknown,
      m: typeof module,
    ) => void;
    wrapper(
      module.exports,
      (name) => {
        required.push(name);
        return {};
      },
      module,
    );
    expect(typeof module.exports.onExecutePostLogin).toBe('function');
    expect(required).toEqual(['node:crypto']);
  });

  it('refuses an Action that bundles an npm module', async () => {
    await expect(buildAction(join(import.meta.dirname, 'fixtures', 'uses-npm-module.ts'))).rejects.toThrow(
      ActionBuildError,
    );
  });

  it('refuses an Action over Auth0’s 100 kB limit', async () => {
    const entry = join(dir, 'huge.ts');
    await writeFile(
      entry,
      `export const table = ${JSON.stringify('x'.repeat(ACTION_CODE_LIMIT_BYTES))};\nexport const onExecutePostLogin = async () => { void table; };\n`,
    );

    await expect(buildAction(entry)).rejects.toThrow(/over Auth0's limit/);
  });
});

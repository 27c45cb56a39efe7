/**
 * The installed command itself: `cli/bin.mjs` runs as its own process (tsx registered by the
 * shim), prints help, and turns `run`'s result into the process exit code.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createInviteStarter, inviteStartMeta, prepareInvite } from '../../../client/invites';
import { devServerEnv } from '../../support/temporal';
import { TEST_PAYLOAD_ENV } from '../../support/payload-keys';

const BIN = fileURLToPath(new URL('../../../cli/bin.mjs', import.meta.url));

/**
 * Runs the bin with a clean environment (no Temporal settings inherited from the test run, and
 * none read from a local stack's .data/ of this checkout).
 */
function bin(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', INVITEFLOW_LOCAL_DATA: '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('bin', () => {
  it('prints the help with the commands and exit codes, and exits 0', async () => {
    const r = await bin(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: inviteflow \[options\] \[command\]/);
    for (const command of ['list', 'show', 'revoke', 'resend', 'extend', 'bulk'])
      expect(r.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    expect(r.stdout).toMatch(/^ {2}78 {2}configuration error/m);
    expect(r.stderr).toBe('');
  });

  it('exits with the code of the failure: 2 for usage, 78 for configuration', async () => {
    const usage = await bin(['revoke']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'invite'/);
    const config = await bin(['list'], { INVITE_ID_KEY: 'short' });
    expect(config.code).toBe(78);
    expect(config.stderr).toMatch(/INVITE_ID_KEY: must be at least 16 characters/);
    // Payload encryption is on by default: without keys the CLI neither reads nor writes invites.
    const noKeys = await bin(['list']);
    expect(noKeys.code).toBe(78);
    expect(noKeys.stderr).toMatch(/PAYLOAD_KEYS: is required: payload encryption is on by default/);
    expect(noKeys.stderr).toMatch(/PAYLOAD_ENCRYPTION=off/);
  });
});

describe('bin against Temporal', () => {
  it('loads the Temporal client in its own process and lists an invite from visibility', async () => {
    const env = await devServerEnv();
    try {
      const key = randomBytes(24).toString('base64url');
      // Visibility needs no worker: the invite only has to be started.
      const { input, invite } = prepareInvite(key, { email: 'bin@example.com', scope: 'bin' });
      await createInviteStarter(env.client, 'bin-no-worker')(input, inviteStartMeta(invite));
      const cliEnv = { ...TEST_PAYLOAD_ENV, TEMPORAL_ADDRESS: env.address, INVITE_ID_KEY: key };
      let listed: Awaited<ReturnType<typeof bin>> | undefined;
      // Visibility is eventually consistent: poll (bounded), but stop at the first failure.
      for (let i = 0; i < 50 && (listed === undefined || (listed.code === 0 && listed.stdout === '')); i++) {
        listed = await bin(['list', '--json', '--scope', 'bin'], cliEnv);
      }
      expect(listed?.stderr).toBe('');
      expect(listed?.code).toBe(0);
      expect(JSON.parse(listed!.stdout)).toMatchObject({
        id: input.inviteId,
        email: 'bin@example.com',
        scope: 'bin',
        status: 'pending',
      });
    } finally {
      await env.teardown();
    }
  });
});

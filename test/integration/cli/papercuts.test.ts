/**
 * What a newcomer or an operator meets first, without any server: output into a pipe that closed
 * early (`inviteflow show <id> | head`), and the local stack's settings the CLI finds by itself or,
 * when it cannot, says where to get.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/main';
import type { Output } from '../../../cli/main';
import { withLocalStack } from '../../../cli/local-stack';
import type { LocalStackFile } from '../../../cli/local-stack';
import { TEST_PAYLOAD_ENV } from '../../support/payload-keys';

const BIN = fileURLToPath(new URL('../../../cli/bin.mjs', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A directory holding what `npm run dev` writes into `.data/`. */
function localStackDir(files: { secrets?: object; stack?: LocalStackFile }): string {
  const dir = mkdtempSync(join(tmpdir(), 'inviteflow-local-'));
  dirs.push(dir);
  if (files.secrets) writeFileSync(join(dir, 'local-secrets.json'), JSON.stringify(files.secrets));
  if (files.stack) writeFileSync(join(dir, 'local-stack.json'), JSON.stringify(files.stack));
  return dir;
}

const STACK: LocalStackFile = {
  temporalAddress: '127.0.0.1:17233',
  apiUrl: 'http://localhost:13000',
  auth0: {
    url: 'http://127.0.0.1:14010',
    domain: 'inviteflow-dev.auth0.local',
    audience: 'https://inviteflow/api',
    clientId: 'inviteflow-m2m',
    clientSecret: 'inviteflow-m2m-secret',
  },
};
const SECRETS = { inviteIdKey: 'local-invite-id-key-0123456789', payloadKeys: JSON.parse(TEST_PAYLOAD_ENV.PAYLOAD_KEYS) as unknown[] };

/** Runs the CLI in-process with `env` and the local stack's files in `localStack`. */
async function cli(argv: string[], env: Record<string, string>, localStack?: string) {
  let stdout = '';
  let stderr = '';
  const out = (append: (s: string) => void): Output => ({ write: (s: string) => append(s) });
  const code = await run(argv, {
    stdout: out((s) => (stdout += s)),
    stderr: out((s) => (stderr += s)),
    env,
    ...(localStack !== undefined ? { localStack } : {}),
  });
  return { code, stdout, stderr };
}

describe('output into a pipe closed early', () => {
  it('ends quietly with status 0 instead of an EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], {
      env: { PATH: process.env.PATH ?? '', INVITEFLOW_LOCAL_DATA: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader goes away before the CLI has written anything, as `head` does after its lines.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('close', (c, s) => resolve([c, s])),
    );
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(stderr).toBe('');
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });
});

describe("the local stack's settings", () => {
  it('fills only what the environment lacks, and only when it targets the local stack', () => {
    const dir = localStackDir({ secrets: SECRETS, stack: STACK });
    const filled = withLocalStack({}, dir);
    expect(filled).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:17233',
      INVITE_ID_KEY: SECRETS.inviteIdKey,
      PAYLOAD_KEYS: JSON.stringify(SECRETS.payloadKeys),
      AUTH0_DOMAIN: 'inviteflow-dev.auth0.local',
      AUTH0_CLIENT_ID: 'inviteflow-m2m',
      AUTH0_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:14010',
    });
    // The HubSpot emulator, whose contact properties create and bulk check, when the file names it.
    const withHubSpot = localStackDir({ secrets: SECRETS, stack: { ...STACK, hubspot: { url: 'http://127.0.0.1:14020', accessToken: 'pat-local-dev' } } });
    expect(withLocalStack({}, withHubSpot)).toMatchObject({ HUBSPOT_ACCESS_TOKEN: 'pat-local-dev', HUBSPOT_BASE_PATH: 'http://127.0.0.1:14020' });
    expect(filled.HUBSPOT_ACCESS_TOKEN).toBeUndefined();
    // The local address spelled the other way is still the local stack; a set variable wins.
    expect(withLocalStack({ TEMPORAL_ADDRESS: 'localhost:17233', INVITE_ID_KEY: 'mine-0123456789abcdef' }, dir)).toMatchObject({
      TEMPORAL_ADDRESS: 'localhost:17233',
      INVITE_ID_KEY: 'mine-0123456789abcdef',
      PAYLOAD_KEYS: JSON.stringify(SECRETS.payloadKeys),
    });
    // Another Temporal: nothing of the local stack leaks into it.
    const elsewhere = { TEMPORAL_ADDRESS: 'temporal.prod.internal:7233' };
    expect(withLocalStack(elsewhere, dir)).toEqual(elsewhere);
    // Running in clear on purpose: no keys are added.
    expect(withLocalStack({ PAYLOAD_ENCRYPTION: 'off' }, dir).PAYLOAD_KEYS).toBeUndefined();
    // Secrets from before local-stack.json existed: the default local address.
    const secretsOnly = localStackDir({ secrets: SECRETS });
    expect(withLocalStack({}, secretsOnly).INVITE_ID_KEY).toBe(SECRETS.inviteIdKey);
    expect(withLocalStack({ TEMPORAL_ADDRESS: 'localhost:7233' }, secretsOnly).INVITE_ID_KEY).toBe(SECRETS.inviteIdKey);
  });

  it('bulk finds INVITE_ID_KEY and the payload keys in the local secrets (dry run, nothing started)', async () => {
    const dir = localStackDir({ secrets: SECRETS, stack: STACK });
    const csv = join(dir, 'invites.csv');
    writeFileSync(csv, 'email\nada@example.com\n');
    const r = await cli(['bulk', csv, '--dry-run', '--json'], {}, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"email":"ada@example.com"/);
  });

  it('says where the keys come from when they are still missing', async () => {
    const empty = localStackDir({});
    const csv = join(empty, 'invites.csv');
    writeFileSync(csv, 'email\nada@example.com\n');
    const noKey = await cli(['bulk', csv], { ...TEST_PAYLOAD_ENV }, empty);
    expect(noKey.code).toBe(78);
    expect(noKey.stderr).toMatch(/INVITE_ID_KEY is required/);
    expect(noKey.stderr).toContain('npm run dev');
    expect(noKey.stderr).toContain('.data/local-secrets.json');

    const noPayloadKeys = await cli(['list'], {}, empty);
    expect(noPayloadKeys.code).toBe(78);
    expect(noPayloadKeys.stderr).toMatch(/PAYLOAD_KEYS: is required/);
    expect(noPayloadKeys.stderr).toContain('.data/local-secrets.json');

    const noApp = await cli(['token'], {}, empty);
    expect(noApp.code).toBe(78);
    expect(noApp.stderr).toMatch(/AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET are required to ask for a token/);
    expect(noApp.stderr).toContain('.data/local-stack.json');
  });
});

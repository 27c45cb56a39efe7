/**
 * `npm run dev` as a developer runs it (scripts/dev.ts as its own process group, on free ports and
 * a fresh data directory): the CLI of the checkout finds the stack's settings by itself, its
 * `token` command gets an access token from the stack's Auth0 emulator that the stack's API
 * accepts, and Ctrl-C stops everything with one line per component and status 0.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tsProcess } from '../../../scripts/ts-process';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin.mjs');
const PORT_NAMES = ['TEMPORAL', 'TEMPORAL_UI', 'API', 'AUTH0', 'HUBSPOT', 'SMTP', 'INBOX', 'APP', 'WORKER_METRICS'];

/** Distinct free ports, all held at once while they are picked so none is handed out twice. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

let dataDir: string;
let stack: ChildProcess;
let output = '';
let exited: Promise<[number | null, NodeJS.Signals | null]>;
let ports: Record<string, number>;

/** Runs the installed command as an operator would, with nothing of the stack in its environment. */
function inviteflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', INVITEFLOW_LOCAL_DATA: dataDir }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'inviteflow-dev-'));
  const picked = await freePorts(PORT_NAMES.length);
  ports = Object.fromEntries(PORT_NAMES.map((name, i) => [name, picked[i]!]));
  const [command, args] = tsProcess(join(ROOT, 'scripts', 'dev.ts'));
  stack = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(PORT_NAMES.map((name) => [`DEV_${name}_PORT`, String(ports[name])])),
      DEV_DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, like a terminal's foreground job: Ctrl-C goes to the whole group.
    detached: true,
  });
  stack.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  stack.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  exited = new Promise((resolve) => stack.once('exit', (code, signal) => resolve([code, signal])));
  await vi.waitFor(
    () => {
      if (stack.exitCode !== null) throw new Error(`the stack exited early:\n${output}`);
      expect(output).toContain('Press Ctrl-C to stop.');
    },
    { timeout: 110_000, interval: 250 },
  );
});

afterAll(async () => {
  if (stack && stack.exitCode === null && stack.signalCode === null) {
    process.kill(-stack.pid!, 'SIGINT');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run dev', () => {
  it('inviteflow token prints an access token that the local API accepts', async () => {
    const r = await inviteflow(['token']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(decodeJwt(token)).toMatchObject({
      aud: 'https://inviteflow/api',
      sub: 'inviteflow-m2m@clients',
      scope: 'invites:create invites:read invites:write',
    });
    const api = `http://127.0.0.1:${ports.API}`;
    const created = await fetch(`${api}/v1/invites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'token.recipe@example.com', scope: 'dev-stack' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const read = await fetch(`${api}/v1/invites/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    // Without the token the same request is refused: the token is what got it through.
    expect((await fetch(`${api}/v1/invites/${id}`)).status).toBe(401);

    // Narrowed on request, as Auth0 does.
    const narrow = await inviteflow(['token', '--scope', 'invites:read', '--json']);
    expect(narrow.code).toBe(0);
    expect(JSON.parse(narrow.stdout)).toMatchObject({ scope: 'invites:read' });
  });

  it("the CLI finds the stack's Temporal and keys by itself: show by email and bulk need no exports", async () => {
    const email = 'local.settings@example.com';
    const csv = join(dataDir, 'invites.csv');
    writeFileSync(csv, `email,scope\n${email},dev-stack\n`);
    const bulk = await inviteflow(['bulk', csv]);
    expect(bulk.stderr).toBe('');
    expect(bulk.code).toBe(0);
    // Naming the invite by email derives its id with the stack's INVITE_ID_KEY.
    const shown = await inviteflow(['show', email, '--scope', 'dev-stack', '--json']);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(email);
  });

  it('Ctrl-C (and a relayed second one) stops the whole stack quietly: one line per component, status 0', async () => {
    const before = output.length;
    process.kill(-stack.pid!, 'SIGINT');
    // npm and tsx relay Ctrl-C to the script once more: that must not cut the shutdown short.
    await vi.waitFor(() => expect(output.slice(before)).toContain('stopping…'), { timeout: 10_000, interval: 50 });
    process.kill(stack.pid!, 'SIGINT');
    const [code, signal] = await exited;
    const lines = output.slice(before).split('\n').filter((l) => l.trim());
    expect(lines).toEqual([
      'stopping…',
      '[api] stopped',
      '[worker] stopped',
      '[temporal] stopped',
      '[emulators, demo] stopped',
    ]);
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });
});

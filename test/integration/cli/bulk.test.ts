/**
 * The CLI's create paths, `inviteflow bulk` and `inviteflow create`, on the real dev server and
 * the Auth0 emulator: rows go through the API's validation, role check and starter, invalid rows
 * (unknown roles, data past the bounds) are skipped with their reason, the report has one row per
 * input row, and a run with an existing report resumes (done rows are not started again).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveInviteId } from '../../../client/invite-id';
import { MAX_DATA_DEPTH, MAX_DATA_KEYS } from '../../../workflows/input';
import { startCliHarness, uniqueEmail } from './harness';
import { WAIT } from '../../support/wait';
import type { CliHarness } from './harness';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h?.close();
});

const id = (email: string, scope: string) => deriveInviteId(h.cliEnv.INVITE_ID_KEY, email, scope);

describe('bulk', () => {
  it('creates valid rows, skips invalid ones with the reason, reports one row per input row, and resumes from its report', async () => {
    const ada = uniqueEmail('ada');
    const grace = uniqueEmail('grace');
    const linus = uniqueEmail('linus');
    const csv = [
      'email,scope,roles,locale,data_plan,data_lead,ttl',
      `${ada},acme,member; billing,fr,pro,L-1,14 days`,
      `  ${grace.toUpperCase()} ,,,,,,`,
      'not-an-email,acme,,,,,',
      `${linus},acme,,,,,45 days`,
      `${ada},acme,,,,,`,
      `"${uniqueEmail('quoted')}","bad scope!",,,"a, b",,`,
    ].join('\r\n');
    const input = h.file('people.csv', csv);
    const out = h.file('report.csv', '');

    const first = await h.cli([
      'bulk',
      input,
      '--rate',
      '1000/s',
      '--report',
      out,
      '--scope',
      'bulk',
      '--roles',
      'viewer,reader',
    ]);
    expect(first.code).toBe(1); // some rows were skipped
    expect(first.stdout).toMatch(
      /^bulk: 6 rows · 2 created · 1 exists · 3 skipped · 0 failed · 0 already done$/m,
    );
    expect(first.stdout).toMatch(
      /^ {2}row 4 {2}skipped {2}not-an-email {2}email: must be a normalized email address$/m,
    );
    expect(first.stdout).toMatch(
      /^ {2}row 5 {2}skipped {2}\S+ {2}ttl: must be between 1 minute and 30 days$/m,
    );

    expect(h.report(out)).toEqual([
      { row: '2', email: ada, scope: 'acme', outcome: 'created', invite_id: id(ada, 'acme'), reason: '' },
      { row: '3', email: grace, scope: 'bulk', outcome: 'created', invite_id: id(grace, 'bulk'), reason: '' },
      {
        row: '4',
        email: 'not-an-email',
        scope: 'acme',
        outcome: 'skipped',
        invite_id: '',
        reason: 'email: must be a normalized email address',
      },
      {
        row: '5',
        email: linus,
        scope: 'acme',
        outcome: 'skipped',
        invite_id: '',
        reason: 'ttl: must be between 1 minute and 30 days',
      },
      {
        row: '6',
        email: ada,
        scope: 'acme',
        outcome: 'exists',
        invite_id: id(ada, 'acme'),
        reason: 'an invite for this email and scope is already open',
      },
      expect.objectContaining({
        row: '7',
        outcome: 'skipped',
        reason: expect.stringMatching(/^scope: must be/),
      }),
    ]);

    // Each cell reached the workflow input: roles split on ";", data_* columns, locale, ttl.
    const adaStatus = await h.until(id(ada, 'acme'), (s) => s.emails.length === 1);
    expect(adaStatus).toMatchObject({
      email: ada,
      scope: 'acme',
      roles: ['member', 'billing'],
      data: { plan: 'pro', lead: 'L-1' },
    });
    expect(Date.parse(adaStatus.expiresAt) - Date.parse(adaStatus.createdAt)).toBe(14 * 24 * 3600 * 1000);
    expect(h.fake.calls.emails.find((e) => e.inviteId === id(ada, 'acme'))?.locale).toBe('fr');
    // Empty cells take the command's defaults.
    expect(await h.status(id(grace, 'bulk'))).toMatchObject({
      scope: 'bulk',
      roles: ['viewer', 'reader'],
      data: {},
    });

    // The operator fixes row 4 and runs again with the same report.
    writeFileSync(join(h.dir, input), csv.replace('not-an-email', linus));
    const second = await h.cli([
      'bulk',
      input,
      '--rate',
      '1000/s',
      '--report',
      out,
      '--scope',
      'bulk',
      '--roles',
      'viewer,reader',
      '--json',
    ]);
    expect(second.code).toBe(1);
    const lines = second.lines();
    expect(lines.at(-1)).toEqual({
      summary: { rows: 6, created: 1, exists: 0, skipped: 2, failed: 0, done: 3, report: join(h.dir, out) },
    });
    // Rows done before keep their outcome: "created", not the "exists" a second start would say.
    expect(lines.slice(0, -1).map((l) => [l.row, l.outcome, l.resumed ?? false])).toEqual([
      [2, 'created', true],
      [3, 'created', true],
      [4, 'created', false],
      [5, 'skipped', false],
      [6, 'exists', true],
      [7, 'skipped', false],
    ]);
    expect(h.report(out).map((r) => [r.row, r.email, r.outcome])).toEqual([
      ['2', ada, 'created'],
      ['3', grace, 'created'],
      ['4', linus, 'created'],
      ['5', linus, 'skipped'],
      ['6', ada, 'exists'],
      ['7', expect.any(String), 'skipped'],
    ]);
    expect(h.fake.calls.emails.filter((e) => e.inviteId === id(ada, 'acme'))).toHaveLength(1);
  });

  it('checks every row on --dry-run and starts nothing, writing no report', async () => {
    const ada = uniqueEmail('dry');
    const input = h.file('dry.csv', `email,scope\n${ada},dry\nnope,dry\n`);
    const r = await h.cli(['bulk', input, '--dry-run', '--report', 'dry-report.csv', '--json']);
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([
      expect.objectContaining({ row: 2, email: ada, outcome: 'valid', inviteId: id(ada, 'dry') }),
      expect.objectContaining({
        row: 3,
        email: 'nope',
        outcome: 'skipped',
        reason: 'email: must be a normalized email address',
      }),
    ]);
    expect(existsSync(join(h.dir, 'dry-report.csv'))).toBe(false);
    await expect(h.env.client.workflow.getHandle(`invite-${id(ada, 'dry')}`).describe()).rejects.toThrow(
      /not found/i,
    );

    const text = await h.cli(['bulk', input, '--dry-run']);
    expect(text.stdout).toMatch(
      /^dry run: 2 rows · 1 would be started · 1 skipped · 0 already done; nothing was started$/m,
    );
  });

  it('exits 0 when every row was created or already open, with JSON lines for each row', async () => {
    const emails = [uniqueEmail('a'), uniqueEmail('b'), uniqueEmail('c')];
    const input = h.file('ok.csv', `email\n${emails.join('\n')}\n`);
    const r = await h.cli(['--json', 'bulk', input, '--rate', '1000/s', '--scope', 'ok']);
    expect(r.code).toBe(0);
    expect(r.lines()).toEqual([
      ...emails.map((email): unknown =>
        expect.objectContaining({ email, scope: 'ok', outcome: 'created', inviteId: id(email, 'ok') }),
      ),
      { summary: { rows: 3, created: 3, exists: 0, skipped: 0, failed: 0, done: 0 } },
    ]);
    expect(r.stderr).toBe('');
  });

  it('stops on Ctrl-C with a resumable report', async () => {
    const emails = [uniqueEmail('i1'), uniqueEmail('i2'), uniqueEmail('i3')];
    const input = h.file('slow.csv', `email\n${emails.join('\n')}\n`);
    const out = 'slow-report.csv';
    const controller = new AbortController();
    // One start per second: the abort lands while the run waits for its next slot.
    const running = h.cli(['bulk', input, '--rate', '1/s', '--report', out, '--scope', 'slow'], {
      signal: controller.signal,
    });
    await expect.poll(() => existsSync(join(h.dir, out)) && h.report(out).length >= 1, WAIT).toBe(true);
    controller.abort(new Error('interrupted'));
    const stopped = await running;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/interrupted: .*same --report/);
    const done = h.report(out);
    expect(done.length).toBeLessThan(3);
    expect(done.every((row) => row.outcome === 'created')).toBe(true);

    const resumed = await h.cli([
      'bulk',
      input,
      '--rate',
      '1000/s',
      '--report',
      out,
      '--scope',
      'slow',
      '--json',
    ]);
    expect(resumed.code).toBe(0);
    expect(resumed.lines().at(-1)).toMatchObject({
      summary: { rows: 3, created: 3 - done.length, exists: 0, done: done.length },
    });
    expect(h.report(out).map((row) => [row.email, row.outcome])).toEqual(
      emails.map((email) => [email, 'created']),
    );
  });

  it('draws a progress bar on a terminal only, never with --json', async () => {
    const input = h.file('bar.csv', `email\n${uniqueEmail('bar')}\n`);
    const tty = await h.cli(['bulk', input, '--rate', '1000/s', '--scope', 'bar'], { tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/bulk .*1\/1 · 1 created/);
    const piped = await h.cli(['bulk', input, '--rate', '1000/s', '--scope', 'bar']);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/1 exists/);
    const json = await h.cli(['bulk', input, '--rate', '1000/s', '--scope', 'bar', '--json'], { tty: true });
    expect(json.stderr).toBe('');
  });

  it('skips rows naming a role Auth0 does not have (unknown_role), also on --dry-run, reading the roles once', async () => {
    const [ok, typo, both] = [uniqueEmail('roles-ok'), uniqueEmail('roles-typo'), uniqueEmail('roles-both')];
    const input = h.file(
      'roles.csv',
      ['email,roles', `${ok},member;billing`, `${typo},membr`, `${both},Admin;billing;ghost`, `${uniqueEmail('default')},`].join('\n'),
    );
    const listingsBefore = h.auth0.counts['GET /api/v2/roles'] ?? 0;
    const dry = await h.cli(['bulk', input, '--dry-run', '--scope', 'roles', '--roles', 'viewer', '--json']);
    expect(dry.code).toBe(1);
    expect(dry.lines().map((l) => [l.row, l.outcome, l.reason, l.inviteId])).toEqual([
      [2, 'valid', '', id(ok, 'roles')],
      [3, 'skipped', 'unknown_role: no such role in Auth0: "membr"', ''],
      [4, 'skipped', 'unknown_role: no such role in Auth0: "Admin", "ghost"', ''],
      [5, 'valid', '', expect.any(String)],
    ]);
    // One listing for the whole file.
    expect((h.auth0.counts['GET /api/v2/roles'] ?? 0) - listingsBefore).toBe(1);
    await expect(h.env.client.workflow.getHandle(`invite-${id(ok, 'roles')}`).describe()).rejects.toThrow(/not found/i);

    const out = h.file('roles-report.csv', '');
    const real = await h.cli(['bulk', input, '--rate', '1000/s', '--scope', 'roles', '--roles', 'viewer', '--report', out]);
    expect(real.code).toBe(1);
    expect(real.stdout).toMatch(/^bulk: 4 rows · 2 created · 0 exists · 2 skipped · 0 failed · 0 already done$/m);
    expect(real.stdout).toMatch(/^ {2}row 3 {2}skipped {2}\S+ {2}unknown_role: no such role in Auth0: "membr"$/m);
    expect(h.report(out).map((r) => [r.row, r.outcome, r.invite_id])).toEqual([
      ['2', 'created', id(ok, 'roles')],
      ['3', 'skipped', ''],
      ['4', 'skipped', ''],
      ['5', 'created', expect.any(String)],
    ]);
    for (const email of [typo, both]) {
      await expect(h.env.client.workflow.getHandle(`invite-${id(email, 'roles')}`).describe()).rejects.toThrow(/not found/i);
    }
    expect((await h.status(id(ok, 'roles'))).roles).toEqual(['member', 'billing']);
  });

  it('starts nothing and exits 4 when Auth0 cannot be asked for its roles', async () => {
    const email = uniqueEmail('auth0-down');
    const input = h.file('down.csv', `email,roles\n${email},member\n`);
    h.auth0.injectFault({ route: 'GET /api/v2/roles', status: 503 });
    try {
      for (const extra of [['--dry-run'], ['--rate', '1000/s']]) {
        const r = await h.cli(['bulk', input, '--scope', 'down', ...extra]);
        expect(r.code).toBe(4);
        expect(r.stderr).toMatch(/^inviteflow: roles_unavailable: Cannot read the roles of the Auth0 tenant .*nothing was started$/m);
      }
    } finally {
      h.auth0.clearFaults();
    }
    await expect(h.env.client.workflow.getHandle(`invite-${id(email, 'down')}`).describe()).rejects.toThrow(/not found/i);
    // Without roles to check, Auth0 is not needed at all: not even its configuration.
    const noRoles = h.file('noroles.csv', `email\n${uniqueEmail('no-auth0')}\n`);
    const r = await h.cli(['bulk', noRoles, '--rate', '1000/s', '--scope', 'down'], { env: { AUTH0_DOMAIN: undefined, AUTH0_CLIENT_SECRET: undefined } });
    expect(r.code).toBe(0);
  });

  it('needs the Auth0 application to check roles (exit 78 naming what is missing)', async () => {
    const input = h.file('noconfig.csv', `email,roles\n${uniqueEmail('cfg')},member\n`);
    const r = await h.cli(['bulk', input, '--dry-run'], { env: { AUTH0_CLIENT_ID: undefined, AUTH0_CLIENT_SECRET: undefined } });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/config_invalid: AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET are required to check role names in Auth0/);
  });

  it(`skips rows whose data_ columns pass the data key limit (${MAX_DATA_KEYS})`, async () => {
    const columns = Array.from({ length: MAX_DATA_KEYS + 1 }, (_, i) => `data_k${i}`);
    const email = uniqueEmail('wide');
    const input = h.file('wide.csv', `email,${columns.join(',')}\n${email},${columns.map((_, i) => i).join(',')}\n`);
    const r = await h.cli(['bulk', input, '--dry-run', '--json']);
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([
      expect.objectContaining({ row: 2, outcome: 'skipped', reason: `data: must have at most ${MAX_DATA_KEYS} keys in all (array items count as keys)` }),
    ]);
  });

  it('refuses a file it cannot use, before starting anything (exit 2)', async () => {
    const cases: [string, RegExp][] = [
      [h.file('typo.csv', 'email,role\nada@example.com,admin\n'), /unknown column\(s\) "role"/],
      [h.file('noemail.csv', 'scope\nacme\n'), /has no "email" column/],
      [h.file('twice.csv', 'email,email\na@example.com,b@example.com\n'), /column "email" appears twice/],
      [h.file('empty.csv', ''), /is empty/],
      [h.file('broken.csv', 'email\n"ada@example.com\n'), /quoted field is not closed/],
      ['missing.csv', /cannot read .*missing\.csv \(ENOENT\)/],
    ];
    for (const [name, message] of cases) {
      const r = await h.cli(['bulk', name]);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
    }
    const notAReport = h.file('other.csv', 'a,b\n1,2\n');
    const r = await h.cli(['bulk', h.file('fine.csv', 'email\nada@example.com\n'), '--report', notAReport]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a bulk report/);
    expect(readFileSync(join(h.dir, notAReport), 'utf8')).toBe('a,b\n1,2\n');
  });
});

describe('create', () => {
  it('invites one person through the API path, then answers "exists" for the same email and scope', async () => {
    const email = uniqueEmail('one');
    const r = await h.cli(['create', email.toUpperCase(), '--scope', 'solo', '--roles', 'member,billing', '--locale', 'fr', '--data', '{"plan":"pro","seat":{"n":3}}']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`created invite ${id(email, 'solo')} for ${email} in scope solo\n`);
    const status = await h.until(id(email, 'solo'), (s) => s.emails.length === 1);
    expect(status).toMatchObject({ email, scope: 'solo', roles: ['member', 'billing'], data: { plan: 'pro', seat: { n: 3 } } });
    expect(h.fake.calls.emails.find((e) => e.inviteId === id(email, 'solo'))?.locale).toBe('fr');

    const again = await h.cli(['--json', 'create', email, '--scope', 'solo', '--roles', 'admin']);
    expect(again.code).toBe(0);
    expect(again.lines()).toEqual([{ outcome: 'exists', inviteId: id(email, 'solo'), email, scope: 'solo' }]);
    expect((await h.status(id(email, 'solo'))).roles).toEqual(['member', 'billing']);
  });

  it('refuses a role Auth0 does not have with unknown_role (exit 1), also on --dry-run, starting nothing', async () => {
    const email = uniqueEmail('one-typo');
    for (const extra of [['--dry-run'], []]) {
      const r = await h.cli(['create', email, '--scope', 'solo', '--roles', 'member,membr,Admin', ...extra]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('inviteflow: unknown_role: No such role in Auth0: "membr", "Admin"; nothing was started\n  membr\n  Admin\n');
    }
    const json = await h.cli(['--json', 'create', email, '--roles', 'ghost']);
    expect(JSON.parse(json.stderr)).toEqual({
      error: { code: 'unknown_role', message: 'No such role in Auth0: "ghost"; nothing was started', details: ['ghost'] },
    });
    await expect(h.env.client.workflow.getHandle(`invite-${id(email, 'solo')}`).describe()).rejects.toThrow(/not found/i);
    const dry = await h.cli(['create', email, '--scope', 'solo', '--roles', 'member', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: would invite .+ in scope solo \(invite \w+\); nothing was started$/m);
    await expect(h.env.client.workflow.getHandle(`invite-${id(email, 'solo')}`).describe()).rejects.toThrow(/not found/i);
  });

  it(`refuses data past the bounds with invalid_request naming the limit (exit 1), and data that is not an object (exit 2)`, async () => {
    const email = uniqueEmail('one-deep');
    const deep = `${'{"k":'.repeat(MAX_DATA_DEPTH + 1)}1${'}'.repeat(MAX_DATA_DEPTH + 1)}`;
    const r = await h.cli(['create', email, '--data', deep]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^inviteflow: invalid_request: .*\\n {2}data: must nest at most ${MAX_DATA_DEPTH} levels deep`));
    expect((await h.cli(['create', email, '--data', '[1]'])).code).toBe(2);
    expect((await h.cli(['create', email, '--data', '{oops'])).code).toBe(2);
    await expect(h.env.client.workflow.getHandle(`invite-${id(email, 'default')}`).describe()).rejects.toThrow(/not found/i);
  });

  it('starts nothing and exits 4 when Auth0 cannot be asked; an invite without roles does not ask', async () => {
    const email = uniqueEmail('one-down');
    h.auth0.injectFault({ route: 'GET /api/v2/roles', status: 503 });
    try {
      const r = await h.cli(['create', email, '--roles', 'member']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/^inviteflow: roles_unavailable: /);
      await expect(h.env.client.workflow.getHandle(`invite-${id(email, 'default')}`).describe()).rejects.toThrow(/not found/i);
      expect((await h.cli(['create', email])).code).toBe(0);
    } finally {
      h.auth0.clearFaults();
    }
  });
});

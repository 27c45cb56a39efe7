/**
 * The operator CLI's commands on the real dev server and the real workflow: list (visibility,
 * polled since it is eventually consistent), show (status and history summary), the revoke,
 * resend and extend updates with their refusals, and the exit codes of each kind of failure.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Worker } from '@temporalio/worker';
import { payloadDataConverter } from '../../../client/codec';
import { deriveInviteId } from '../../../client/invite-id';
import { deliveryFailedSignal, inviteWorkflowId } from '../../../workflows/messages';
import { workflowBundle } from '../../support/temporal';
import { startCliHarness, uniqueEmail } from './harness';
import { WAIT } from '../../support/wait';
import type { CliHarness, CliResult } from './harness';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h?.close();
});

// One worker serves the whole file: a test that fails midway must not leave its injected
// failures to the next ones.
afterEach(() => {
  h?.fake.reset();
});

const uniqueScope = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

/** Runs `list --json` until `done` holds for its rows (visibility trails the workflows). */
async function listUntil(
  args: string[],
  done: (rows: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  return vi.waitFor(async () => {
    const r = await h.cli(['list', ...args, '--json']);
    expect(r.code).toBe(0);
    const rows = r.lines();
    expect(done(rows), `list ${args.join(' ')}: ${JSON.stringify(rows)}`).toBe(true);
    return rows;
  }, WAIT);
}

function errorOf(r: CliResult): string {
  return r.stderr.trim();
}

describe('list', () => {
  it('finds invites by scope, status and email, as a table and as JSON lines', async () => {
    const scope = uniqueScope('list');
    const ada = await h.invite({ email: uniqueEmail('ada'), scope, roles: ['member'] });
    const grace = await h.invite({ email: uniqueEmail('grace'), scope });
    const other = await h.invite({ email: uniqueEmail('linus'), scope: uniqueScope('elsewhere') });
    expect((await h.cli(['revoke', grace.id])).code).toBe(0);

    const rows = await listUntil(
      ['--scope', scope],
      (rs) => rs.length === 2 && rs.some((r) => r.id === grace.id && r.status === 'revoked'),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([ada.id, grace.id].sort());
    expect(rows.find((r) => r.id === ada.id)).toMatchObject({
      status: 'pending',
      scope,
      execution: 'RUNNING',
    });
    expect(rows.map((r) => r.id)).not.toContain(other.id);

    const revoked = await listUntil(['--scope', scope, '--status', 'revoked'], (rs) => rs.length === 1);
    expect(revoked[0]).toMatchObject({ id: grace.id, status: 'revoked' });

    const adaEmail = (await h.status(ada.id)).email;
    // The filter is normalized like the API's: case and spaces do not matter.
    const byEmail = await listUntil(['--email', `  ${adaEmail.toUpperCase()} `], (rs) => rs.length === 1);
    expect(byEmail[0]).toMatchObject({ id: ada.id, email: adaEmail });

    const limited = await h.cli(['--json', 'list', '--scope', scope, '--limit', '1']);
    expect(limited.code).toBe(0);
    expect(limited.lines()).toHaveLength(1);

    const table = await h.cli(['list', '--scope', scope]);
    expect(table.code).toBe(0);
    const [header, ...lines] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+STATUS\s+EMAIL\s+SCOPE\s+EXPIRES$/);
    expect(lines).toHaveLength(2);
    // Unfiltered, visibility holds only the email's keyed hash (payload encryption is on).
    expect(lines.find((l) => l.startsWith(grace.id))).toMatch(
      new RegExp(`^${grace.id}\\s+revoked\\s+\\(encrypted\\)\\s+${scope}\\s+\\d{4}-`),
    );
    const graceTable = await h.cli(['list', '--email', (await h.status(grace.id)).email]);
    expect(graceTable.stdout).toMatch(new RegExp(`^${grace.id}\\s+revoked\\s+grace\\.\\w+@example\\.com\\s+${scope}\\s+\\d{4}-`, 'm'));
  });

  it('quotes filter values, so a quote in an address is searched for, not interpreted', async () => {
    const scope = uniqueScope('quote');
    const email = `o'brien.${randomBytes(3).toString('hex')}@example.com`;
    const invite = await h.invite({ email, scope });
    const rows = await listUntil(['--email', email], (rs) => rs.length === 1);
    expect(rows[0]).toMatchObject({ id: invite.id, email });
    const injected = await h.cli(['list', '--json', '--scope', `${scope}' OR InviteScope != '`]);
    expect(injected.code).toBe(0);
    expect(injected.lines()).toEqual([]);
  });

  it('refuses malformed filters as usage errors (exit 2)', async () => {
    for (const args of [
      ['--status', 'lost'],
      ['--email', 'not-an-email'],
      ['--limit', '0'],
      ['--limit', 'many'],
    ]) {
      const r = await h.cli(['list', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
  });
});

describe('show', () => {
  it('summarizes a completed invite: each email with its kind, the redemption, side effects with attempts, the final state', async () => {
    const email = uniqueEmail('show');
    const invite = await h.invite({
      email,
      scope: uniqueScope('show'),
      roles: ['member', 'billing'],
      data: { plan: 'pro' },
    });
    await h.until(invite.id, (s) => s.emails.length === 1);
    expect((await h.cli(['extend', invite.id, '--ttl', '14 days'])).code).toBe(0);
    h.fake.fail('linkHubSpotContact', { times: 2, retryable: true });
    await h.redeem(invite.id, { emailVerified: false, connection: 'Username-Password-Authentication' });
    await h.until(invite.id, (s) => s.state === 'completed');

    const r = await h.cli(['show', invite.id]);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text).toMatch(/^state\s+completed$/m);
    expect(text).toMatch(new RegExp(`^email\\s+${email.replace('.', '\\.')}$`, 'm'));
    expect(text).toMatch(/^roles\s+member, billing$/m);
    expect(text).toMatch(/^data\s+\{"plan":"pro"\}$/m);
    expect(text).toMatch(/^emails\s+2 sent$/m);
    expect(text).toMatch(/^contact\s+HubSpot 101$/m);
    const all = text
      .slice(text.indexOf('\nlifecycle\n'), text.indexOf('\nhistory\n'))
      .split('\n')
      .filter((l) => /^ {2}\d{4}-/.test(l))
      .map((l) => l.replace(/^ {2}\S+ {2}/, '').replace(/ +/g, ' '));
    // The contact upsert at creation runs beside the first email: its place varies.
    expect(all.filter((l) => l.startsWith('crm_upserted'))).toEqual(['crm_upserted HubSpot contact 101']);
    const lifecycle = all.filter((l) => !l.startsWith('crm_upserted'));
    expect(lifecycle.slice(0, 5)).toEqual([
      'created',
      'emailed invite email #1',
      expect.stringMatching(/^extended until \d{4}-/),
      'emailed extend email #2',
      `redeemed link of email #2 auth0|${invite.id} via Username-Password-Authentication`,
    ]);
    expect(lifecycle.slice(5, 7).sort()).toEqual(['granted auth0|' + invite.id, 'linked HubSpot contact 101']);
    expect(lifecycle.slice(-2)).toEqual(['completed', 'notified invite.completed']);
    const history = text.slice(text.indexOf('\nhistory\n'));
    const activities = history
      .split('\n')
      .filter((l) => /^ {2}\d{4}-/.test(l))
      .map((l) => l.replace(/^ {2}\S+ {2}/, ''));
    expect(activities.filter((l) => l.startsWith('upsertHubSpotInvitee'))).toEqual(['upsertHubSpotInvitee completed (1 attempt)']);
    const entries = activities.filter((l) => !l.startsWith('upsertHubSpotInvitee'));
    expect(entries.slice(0, 7)).toEqual([
      expect.stringMatching(/^created for .+ in scope show-\w+, roles: member, billing$/),
      'invite email #1 sent (1 attempt)',
      'extend requested (ttl 14 days)',
      expect.stringMatching(/^expiry moved to \d{4}-/),
      'extend email #2 sent (1 attempt)',
      `redeemed by auth0|${invite.id} <${email}> via Username-Password-Authentication (email unverified)`,
      'status pending → redeemed',
    ]);
    // Auth0 and HubSpot run in parallel: their relative order is not part of the contract.
    expect(entries.slice(7, -3).sort()).toEqual([
      'assignAuth0Roles completed (1 attempt)',
      'linkHubSpotContact completed (3 attempts)',
      'markAuth0EmailVerified completed (1 attempt)',
      'writeAuth0AppMetadata completed (1 attempt)',
    ]);
    expect(entries.slice(-3)).toEqual(['status redeemed → completed', 'notifyFunnel completed (1 attempt)', 'closed: completed']);
  });

  it('shows the account policy, the accounts linked into the primary and who holds the grant', async () => {
    const email = uniqueEmail('linked');
    const invite = await h.invite({ email, scope: uniqueScope('linked'), roles: ['member'], accountPolicy: 'link' });
    const google = `google-oauth2|${invite.id}`;
    h.fake.setAccounts([
      { userId: 'auth0|older', email, emailVerified: true, createdAt: '2025-01-01T00:00:00.000Z', identities: ['auth0|older'] },
      { userId: google, email, emailVerified: true, createdAt: '2026-12-01T00:00:00.000Z', identities: [google] },
    ]);
    await h.redeem(invite.id, { userId: google });
    await h.until(invite.id, (s) => s.state === 'completed');
    const text = (await h.cli(['show', invite.id])).stdout;
    expect(text).toMatch(/^accounts\s+policy link$/m);
    expect(text).toMatch(new RegExp(`^linked\\s+${google.replace('|', '\\|')} into auth0\\|older$`, 'm'));
    expect(text).toMatch(/^granted\s+auth0\|older$/m);
    expect(text).toMatch(new RegExp(`^ {2}\\S+ {2}linked_accounts auth0\\|older ← ${google.replace('|', '\\|')}$`, 'm'));
    expect(text).toMatch(/^ {2}\S+ {2}granted +auth0\|older$/m);
  });

  it('shows the campaign, the send window, an undeliverable address and what the lifecycle says of it', async () => {
    const invite = await h.invite({
      email: uniqueEmail('bounced'),
      scope: uniqueScope('bounced'),
      attribution: { utm_source: 'newsletter', utm_campaign: 'spring-26' },
      timeZone: 'Europe/Paris',
    });
    await h.until(invite.id, (s) => s.emails.length === 1);
    await h.env.client.workflow.getHandle(inviteWorkflowId(invite.id)).signal(deliveryFailedSignal, { kind: 'bounce', sequence: 1, reason: '550 5.1.1' });
    await h.until(invite.id, (s) => s.state === 'undeliverable');
    const text = (await h.cli(['show', invite.id])).stdout;
    expect(text).toMatch(/^state\s+undeliverable$/m);
    expect(text).toMatch(/^campaign\s+utm_source=newsletter utm_campaign=spring-26$/m);
    expect(text).toMatch(/^window\s+09:00–20:00 Europe\/Paris$/m);
    expect(text).toMatch(/^undeliv\.\s+\S+ \(bounce: 550 5\.1\.1\)$/m);
    expect(text).toMatch(/^ {2}\S+ {2}undeliverable +email #1 bounce \(550 5\.1\.1\)$/m);
    expect(text).toMatch(/mail provider reported bounce: 550 5\.1\.1$/m);
    expect((await h.cli(['revoke', invite.id])).code).toBe(0);
  });

  it('prints JSON with the status (without link ids), the history entries and the execution', async () => {
    const invite = await h.invite({ email: uniqueEmail('json'), scope: uniqueScope('json') });
    await h.until(invite.id, (s) => s.emails.length === 1 && s.contactId !== undefined);
    const r = await h.cli(['show', invite.id, '--json']);
    expect(r.code).toBe(0);
    const [shown] = r.lines();
    expect(shown).toMatchObject({
      id: invite.id,
      workflowId: `invite-${invite.id}`,
      execution: 'RUNNING',
      status: { state: 'pending' },
      pending: [],
    });
    const lifecycle = shown!.lifecycle as { inviteId: string; events: Record<string, unknown>[]; omitted: number };
    expect(lifecycle).toMatchObject({ inviteId: invite.id, omitted: 0 });
    expect(lifecycle.events).toHaveLength(3);
    expect(lifecycle.events[0]).toMatchObject({ type: 'created' });
    // The email and the contact upsert at creation run side by side: either may be recorded first.
    expect(lifecycle.events.slice(1)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'emailed', sequence: 1, kind: 'invite' }), expect.objectContaining({ type: 'crm_upserted', contactId: '101' })]),
    );
    const status = shown!.status as { emails: Record<string, unknown>[] };
    expect(status.emails).toHaveLength(1);
    expect(status.emails[0]).not.toHaveProperty('linkId');
    const history = shown!.history as Record<string, unknown>[];
    expect(history).toHaveLength(3);
    expect(history[0]).toMatchObject({ kind: 'created' });
    expect(history.slice(1)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'email', outcome: 'completed', attempts: 1, text: 'invite email #1 sent (1 attempt)' }),
        expect.objectContaining({ kind: 'activity', outcome: 'completed', text: 'upsertHubSpotInvitee completed (1 attempt)' }),
      ]),
    );
  });

  it('shows a side effect still being retried, then a permanently refused one as failed', async () => {
    h.fake.fail('linkHubSpotContact', { times: 1000, retryable: true });
    const retrying = await h.invite({ email: uniqueEmail('retry'), scope: uniqueScope('retry') });
    await h.redeem(retrying.id);
    const shown = await vi.waitFor(async () => {
      const [s] = (await h.cli(['show', retrying.id, '--json'])).lines();
      const pending = s?.pending as { activity: string; attempt: number }[] | undefined;
      expect(pending?.some((p) => p.activity === 'linkHubSpotContact' && p.attempt >= 2), 'a retried activity').toBe(true);
      return s!;
    }, WAIT);
    // The other grants run beside it and may still be in their first attempt on a busy machine.
    expect(shown.pending).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          activity: 'linkHubSpotContact',
          lastFailure: 'linkHubSpotContact failed (injected)',
        }),
      ]),
    );
    expect((shown.pending as { lastFailure?: string }[]).filter((p) => p.lastFailure)).toHaveLength(1);
    const text = (await h.cli(['show', retrying.id])).stdout;
    expect(text).toMatch(
      /^in progress\n {2}linkHubSpotContact: attempt \d+, last failure: linkHubSpotContact failed \(injected\)$/m,
    );
    h.fake.fail('linkHubSpotContact', { times: 0, retryable: true });
    await h.until(retrying.id, (s) => s.state === 'completed');

    h.fake.fail('assignAuth0Roles', { times: 1, retryable: false });
    const refused = await h.invite({
      email: uniqueEmail('refused'),
      scope: uniqueScope('refused'),
      roles: ['member'],
    });
    await h.redeem(refused.id);
    await h.until(refused.id, (s) => s.state === 'failed');
    const failed = await h.cli(['show', refused.id]);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toMatch(/^state\s+failed$/m);
    expect(failed.stdout).toMatch(
      /assignAuth0Roles failed \(1 attempt\): assignAuth0Roles failed \(injected\) \[PermanentFailure\]$/m,
    );
    expect(failed.stdout).toMatch(
      /closed: failed: assignAuth0Roles failed \(injected\) \[SideEffectRefused\]$/m,
    );
  });

  it('finds an invite by email and scope: derived with INVITE_ID_KEY, which encrypted invites need', async () => {
    const email = uniqueEmail('byemail');
    const scope = uniqueScope('byemail');
    const invite = await h.invite({ email, scope });
    const derived = await h.cli(['show', email.toUpperCase(), '--scope', scope, '--json']);
    expect(derived.code).toBe(0);
    expect(derived.lines()[0]).toMatchObject({ id: invite.id });
    expect(invite.id).toBe(deriveInviteId(h.cliEnv.INVITE_ID_KEY, email, scope));

    // InviteEmail holds a keyed hash under payload encryption: without the key, no lookup by email.
    const withoutKey = await h.cli(['show', email, '--scope', scope], { env: { INVITE_ID_KEY: undefined } });
    expect(withoutKey.code).toBe(78);
    expect(withoutKey.stderr).toMatch(/INVITE_ID_KEY is required to name an invite by email while payload encryption is on/);
    const unknown = await h.cli(['show', uniqueEmail('nobody'), '--scope', scope]);
    expect(unknown.code).toBe(3);
  });

  it('still shows the history when no worker answers the status query', async () => {
    const orphan = await h.invite(
      { email: uniqueEmail('orphan') },
      {},
      `nobody-${randomBytes(4).toString('hex')}`,
    );
    const r = await h.cli(['show', orphan.id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^state\s+unknown: Temporal did not answer within 5 s/m);
    expect(r.stdout).toMatch(
      /^ {2}\S+ {2}created for orphan\.\w+@example\.com in scope default, roles: none$/m,
    );
  });

  it('accepts the workflow id as the UI shows it', async () => {
    const invite = await h.invite({ email: uniqueEmail('wfid') });
    const r = await h.cli(['show', `invite-${invite.id}`, '--json']);
    expect(r.code).toBe(0);
    expect(r.lines()[0]).toMatchObject({ id: invite.id });
  });
});

describe('revoke, resend, extend', () => {
  it('revokes a pending invite with a reason; a second revoke is refused with invite_revoked (exit 1)', async () => {
    const invite = await h.invite({ email: uniqueEmail('revoke') });
    const r = await h.cli(['revoke', invite.id, '--reason', 'sent to the wrong team']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Revoked invite ${invite.id} (reason: sent to the wrong team).\n`);
    expect(await h.status(invite.id)).toMatchObject({
      state: 'revoked',
      revokeReason: 'sent to the wrong team',
    });

    const again = await h.cli(['revoke', invite.id]);
    expect(again.code).toBe(1);
    expect(errorOf(again)).toBe('inviteflow: invite_revoked: The invite was revoked');
    const json = await h.cli(['revoke', invite.id, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toEqual({
      error: { code: 'invite_revoked', message: 'The invite was revoked' },
    });
  });

  it('prints the revoked status as JSON', async () => {
    const invite = await h.invite({ email: uniqueEmail('revokejson') });
    const r = await h.cli(['--json', 'revoke', invite.id]);
    expect(r.code).toBe(0);
    expect(r.lines()).toEqual([expect.objectContaining({ inviteId: invite.id, state: 'revoked' })]);
  });

  it('resends with a fresh link once the interval passed, and refuses a rate-limited resend (exit 1)', async () => {
    const invite = await h.invite({ email: uniqueEmail('resend') }, { resendInterval: '1 second' });
    await h.until(invite.id, (s) => s.emails.length === 1);
    // Bounded retries: the first attempts may fall within the one-second interval.
    const sent = await vi.waitFor(async () => {
      const r = await h.cli(['resend', invite.id, '--json']);
      if (r.code === 1) expect(JSON.parse(r.stderr).error.code).toBe('resend_rate_limited');
      expect(r.code, 'a resend').toBe(0);
      return r;
    }, WAIT);
    expect(sent.lines()[0]).toMatchObject({ id: invite.id, sent: { sequence: 2, kind: 'resend' } });
    expect(sent.lines()[0]!.sent as object).not.toHaveProperty('linkId');
    expect((await h.status(invite.id)).emails.map((e) => e.kind)).toEqual(['invite', 'resend']);

    const capped = await h.invite({ email: uniqueEmail('capped') }, { maxResends: 0 });
    const refused = await h.cli(['resend', capped.id]);
    expect(refused.code).toBe(1);
    expect(errorOf(refused)).toBe('inviteflow: resend_rate_limited: at most 0 resends per invite');

    const soon = await h.invite({ email: uniqueEmail('soon') }, { resendInterval: '1 hour' });
    await h.until(soon.id, (s) => s.emails.length === 1);
    const early = await h.cli(['resend', soon.id, '--json']);
    expect(early.code).toBe(1);
    expect(JSON.parse(early.stderr).error).toMatchObject({
      code: 'resend_rate_limited',
      details: { retry_after_seconds: expect.any(Number) },
    });
  });

  it('extends the expiry and emails a fresh link; a malformed ttl is a usage error, an out-of-range one is refused', async () => {
    const invite = await h.invite({ email: uniqueEmail('extend'), ttl: '2 days' });
    const before = await h.until(invite.id, (s) => s.emails.length === 1);
    const r = await h.cli(['extend', invite.id, '--ttl', '14 days']);
    expect(r.code).toBe(0);
    const after = await h.status(invite.id);
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.parse(before.expiresAt));
    expect(r.stdout).toBe(
      `Extended invite ${invite.id}: it now expires at ${after.expiresAt}; a fresh link was emailed.\n`,
    );
    expect(after.emails.map((e) => e.kind)).toEqual(['invite', 'extend']);

    expect((await h.cli(['extend', invite.id, '--ttl', 'soon'])).code).toBe(2);
    expect((await h.cli(['extend', invite.id])).code).toBe(2);
    const tooLong = await h.cli(['extend', invite.id, '--ttl', '90 days']);
    expect(tooLong.code).toBe(1);
    expect(errorOf(tooLong)).toBe('inviteflow: invalid_request: ttl must be between 1 minute and 30 days');
  });

  it('refuses operations on a completed invite with invite_not_pending (exit 1)', async () => {
    const invite = await h.invite({ email: uniqueEmail('done') });
    await h.redeem(invite.id);
    await h.until(invite.id, (s) => s.state === 'completed');
    for (const args of [
      ['revoke', invite.id],
      ['resend', invite.id],
      ['extend', invite.id, '--ttl', '3 days'],
    ]) {
      const r = await h.cli(args);
      expect(r.code, args[0]).toBe(1);
      expect(errorOf(r)).toBe('inviteflow: invite_not_pending: The invite is completed');
    }
  });

  it('exits 3 when no invite has the id', async () => {
    const missing = 'a'.repeat(26);
    for (const args of [
      ['show', missing],
      ['revoke', missing],
      ['resend', missing],
      ['extend', missing, '--ttl', '3 days'],
    ]) {
      const r = await h.cli(args);
      expect(r.code, args[0]).toBe(3);
      expect(errorOf(r)).toBe('inviteflow: invite_not_found: No invite has this id');
    }
  });
});

describe('payload encryption', () => {
  it('starts and shows invites whose payloads are encrypted, with the keys of PAYLOAD_KEYS', async () => {
    const keys = [{ id: 'k1', key: randomBytes(32).toString('base64') }];
    const taskQueue = `cli-encrypted-${randomBytes(4).toString('hex')}`;
    const worker = await Worker.create({
      connection: h.env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: h.fake.activities,
      dataConverter: payloadDataConverter(keys),
    });
    const env = { PAYLOAD_KEYS: JSON.stringify(keys), TEMPORAL_TASK_QUEUE: taskQueue };
    await worker.runUntil(async () => {
      const email = uniqueEmail('secret');
      const scope = uniqueScope('secret');
      writeFileSync(join(h.dir, 'secret.csv'), `email,data_plan\n${email},pro\n`);
      expect((await h.cli(['bulk', 'secret.csv', '--scope', scope], { env })).code).toBe(0);
      const id = deriveInviteId(h.cliEnv.INVITE_ID_KEY, email, scope);

      // The input is stored encrypted: without the keys, history shows nothing readable.
      const raw = await h.env.client.workflow.getHandle(`invite-${id}`).fetchHistory();
      const started = raw.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(Buffer.from(started!.metadata!.encoding!).toString()).toBe('binary/encrypted');
      expect(Buffer.from(started!.data!).toString('latin1')).not.toContain(email);

      const shown = await vi.waitFor(async () => {
        const r = await h.cli(['show', id], { env });
        expect(r.code).toBe(0);
        expect(r.stdout, 'the first email in the history').toMatch(/invite email #1 sent/);
        return r;
      }, WAIT);
      expect(shown.stdout).toMatch(
        new RegExp(
          `^ {2}\\S+ {2}created for ${email.replace('.', '\\.')} in scope ${scope}, roles: none$`,
          'm',
        ),
      );
      expect(shown.stdout).toMatch(/^data\s+\{"plan":"pro"\}$/m);
    });
  });
});

describe('exit codes', () => {
  it('exits 2 on a bad command line, printing what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: inviteflow/],
      [['bogus'], /unknown command 'bogus'/],
      [['show'], /missing required argument 'invite'/],
      [['list', '--colour'], /unknown option '--colour'/],
      [['show', 'not an id'], /neither an invite id nor an email address/],
      [['show', 'bad@@example.com'], /not a valid email address/],
      [['bulk', 'x.csv', '--rate', 'fast'], /must be a rate like 5\/s/],
    ];
    for (const [argv, message] of cases) {
      const r = await h.cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(message);
    }
  });

  it('exits 0 with help on stdout for --help of every command', async () => {
    for (const command of ['list', 'show', 'revoke', 'resend', 'extend', 'bulk']) {
      const r = await h.cli([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toMatch(new RegExp(`^Usage: inviteflow ${command} `));
    }
  });

  it('exits 78 on a configuration error, naming the variable', async () => {
    const short = await h.cli(['list'], { env: { INVITE_ID_KEY: 'too-short' } });
    expect(short.code).toBe(78);
    expect(short.stderr).toMatch(
      /config_invalid: invalid configuration:\n {2}INVITE_ID_KEY: must be at least 16 characters/,
    );
    expect(short.stderr).not.toContain('too-short');

    const csv = join(h.dir, 'config.csv');
    writeFileSync(csv, 'email\nada@example.com\n');
    const noKey = await h.cli(['bulk', csv, '--json'], { env: { INVITE_ID_KEY: undefined } });
    expect(noKey.code).toBe(78);
    const tls = await h.cli(['list'], {
      env: {
        TEMPORAL_TLS_CERT: join(h.dir, 'missing-cert.pem'),
        TEMPORAL_TLS_KEY: join(h.dir, 'missing-key.pem'),
      },
    });
    expect(tls.code).toBe(78);
    expect(tls.stderr).toMatch(/config_invalid: Cannot set up the Temporal connection: .*ENOENT/);
    expect(JSON.parse(noKey.stderr).error).toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('INVITE_ID_KEY is required'),
    });
  });

  it('exits 4 when Temporal cannot be reached', async () => {
    // Nothing listens on port 1: the connection is refused until the connect deadline.
    const r = await h.cli(['list'], { env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^inviteflow: temporal_unavailable: Cannot reach Temporal at 127\.0\.0\.1:1/);
  });
});

/**
 * Delivery feedback: the generic signed form and Mailgun's webhook mark an invite undeliverable
 * (emails stop, the funnel is told); forged, stale, replayed and malformed calls change nothing.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { signWebhook } from '../../../lib/webhook-signature';
import { expectNoSecretsInLogs, json, startHarness, uniqueEmail } from '../../support/api-harness';
import type { Harness } from '../../support/api-harness';

const EMAIL_EVENTS_SECRET = randomBytes(32).toString('base64url');
const MAILGUN_KEY = `key-${randomBytes(16).toString('hex')}`;

let h: Harness;
let app: FastifyInstance;

beforeAll(async () => {
  h = await startHarness();
  h.secrets.add(EMAIL_EVENTS_SECRET).add(MAILGUN_KEY);
  app = await h.buildApp({ config: { ...h.config, EMAIL_EVENTS_SECRET, MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY } });
});

afterAll(async () => {
  await h?.close();
});

async function invite(email = uniqueEmail('bounce'), scope = 'default') {
  const res = await app.inject({ method: 'POST', url: '/v1/invites', headers: { authorization: `Bearer ${await h.bearer()}` }, payload: { email, scope } });
  expect(res.statusCode).toBe(201);
  const id = json(res).id as string;
  await h.emails(id);
  return { id, email };
}

const now = () => Math.floor(Date.now() / 1000);

function generic(body: unknown, opts: { secret?: string; t?: number; signature?: string | null; raw?: string } = {}) {
  const payload = opts.raw ?? JSON.stringify(body);
  const signature = opts.signature === undefined ? signWebhook(opts.secret ?? EMAIL_EVENTS_SECRET, payload, opts.t ?? now()) : opts.signature;
  return app.inject({
    method: 'POST',
    url: '/v1/email-events',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'inviteflow-signature': signature }) },
    payload,
  });
}

function mailgunBody(eventData: Record<string, unknown>, opts: { key?: string; timestamp?: number; token?: string } = {}) {
  const timestamp = String(opts.timestamp ?? now());
  const token = opts.token ?? randomBytes(25).toString('hex');
  const signature = createHmac('sha256', opts.key ?? MAILGUN_KEY).update(timestamp + token).digest('hex');
  return { signature: { timestamp, token, signature }, 'event-data': eventData };
}

const mailgun = (body: unknown) => app.inject({ method: 'POST', url: '/v1/email-events/mailgun', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

/** Mailgun's permanent-failure event for one of our messages. */
function bounced(inviteId: string, sequence = 1) {
  return {
    event: 'failed',
    severity: 'permanent',
    reason: 'bounce',
    recipient: 'someone@example.com',
    timestamp: now(),
    id: randomBytes(8).toString('hex'),
    'delivery-status': { code: 550, message: '5.1.1 The email account that you tried to reach does not exist', description: '' },
    message: { headers: { 'message-id': `invite.${inviteId}.${sequence}@inviteflow.local`, to: 'someone@example.com', subject: 'You are invited' } },
    'user-variables': {},
  };
}

describe('POST /v1/email-events (generic signed form)', () => {
  it('marks the invite named by id undeliverable and tells the funnel; a repeat is harmless', async () => {
    const { id } = await invite();
    const res = await generic({ type: 'bounce', inviteId: id, reason: '550 5.1.1 user unknown' });
    expect(res.statusCode).toBe(202);
    expect(json(res)).toEqual({ outcome: 'accepted', inviteId: id });
    const status = await h.until(id, (s) => s.state === 'undeliverable');
    expect(status.undeliverable).toMatchObject({ kind: 'bounce', reason: '550 5.1.1 user unknown' });
    expect((await generic({ type: 'complaint', inviteId: id })).statusCode).toBe(202);
    await h.until(id, () => h.fake.calls.webhooks.some((w) => w.invite.id === id));
    expect(h.fake.calls.webhooks.filter((w) => w.invite.id === id).map((w) => w.type)).toEqual(['invite.undeliverable']);
    expect((await h.status(id)).undeliverable?.kind).toBe('bounce');
    // Listed under its state, and resend is refused with a stable code.
    const resend = await app.inject({ method: 'POST', url: `/v1/invites/${id}/resend`, headers: { authorization: `Bearer ${await h.bearer()}` } });
    expect(resend.statusCode).toBe(409);
    expect(json(resend).error.code).toBe('invite_undeliverable');
  });

  it('finds the invite by our Message-ID, or by email and scope', async () => {
    const byMessage = await invite();
    expect((await generic({ type: 'bounce', messageId: `<invite.${byMessage.id}.1@inviteflow.local>` })).statusCode).toBe(202);
    expect((await h.until(byMessage.id, (s) => s.state === 'undeliverable')).undeliverable?.kind).toBe('bounce');
    const byEmail = await invite(uniqueEmail('complain'), 'workspace:acme');
    const res = await generic({ type: 'complaint', email: byEmail.email.toUpperCase(), scope: 'workspace:acme' });
    expect(json(res)).toEqual({ outcome: 'accepted', inviteId: byEmail.id });
    expect((await h.until(byEmail.id, (s) => s.state === 'undeliverable')).undeliverable?.kind).toBe('complaint');
  });

  it('answers 200 ignored for mail that is not ours and for unknown invites, so the provider stops retrying', async () => {
    expect(json(await generic({ type: 'bounce', messageId: '<abc@elsewhere.example>' }))).toEqual({ outcome: 'ignored', reason: 'not_ours' });
    const unknown = await generic({ type: 'bounce', inviteId: '0'.repeat(32) });
    expect(unknown.statusCode).toBe(200);
    expect(json(unknown)).toMatchObject({ outcome: 'ignored', reason: 'unknown_invite' });
  });

  it('refuses forged, stale, missing and malformed signatures with 401 invalid_signature, changing nothing', async () => {
    const { id } = await invite();
    const body = { type: 'bounce', inviteId: id };
    const payload = JSON.stringify(body);
    for (const [what, res] of [
      ['no signature', await generic(body, { signature: null })],
      ['another secret', await generic(body, { secret: randomBytes(32).toString('base64url') })],
      ['a replay after 10 minutes', await generic(body, { t: now() - 600 })],
      ['a garbled header', await generic(body, { signature: 'sha256=abc' })],
      ['a signature of another body', await generic(body, { signature: signWebhook(EMAIL_EVENTS_SECRET, payload.replace('bounce', 'complaint'), now()) })],
      ['bad JSON, forged', await generic(undefined, { raw: '{"type":', signature: 'sha256=abc' })],
    ] as const) {
      expect(res.statusCode, what).toBe(401);
      expect(json(res).error.code, what).toBe('invalid_signature');
    }
    expect((await h.status(id)).state).toBe('pending');
  });

  it('refuses a correctly signed body that is malformed with 400 invalid_request, changing nothing', async () => {
    const { id } = await invite();
    for (const body of [{ type: 'soft-bounce', inviteId: id }, { type: 'bounce' }, { type: 'bounce', inviteId: id, extra: 1 }, { type: 'bounce', email: 'not an email' }]) {
      const res = await generic(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(json(res).error.code).toBe('invalid_request');
    }
    const raw = await generic(undefined, { raw: '{"type":' });
    expect(raw.statusCode).toBe(400);
    expect((await h.status(id)).state).toBe('pending');
  });

  it('answers 404 not_found when the form is not configured', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/email-events', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(404);
    expect(json(res).error.code).toBe('not_found');
    const mg = await h.app.inject({ method: 'POST', url: '/v1/email-events/mailgun', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(mg.statusCode).toBe(404);
  });
});

describe('POST /v1/email-events/mailgun', () => {
  it('marks the invite of a permanently failed message undeliverable, with Mailgun’s reason', async () => {
    const { id } = await invite();
    const res = await mailgun(mailgunBody(bounced(id)));
    expect(res.statusCode).toBe(202);
    const status = await h.until(id, (s) => s.state === 'undeliverable');
    expect(status.undeliverable).toMatchObject({ kind: 'bounce', reason: 'mailgun: bounce 550' });
  });

  it('takes a complaint, and ignores temporary failures, deliveries and mail that is not ours', async () => {
    const { id } = await invite();
    expect(json(await mailgun(mailgunBody({ ...bounced(id), severity: 'temporary' })))).toEqual({ outcome: 'ignored', reason: 'event_ignored' });
    expect(json(await mailgun(mailgunBody({ ...bounced(id), event: 'delivered' })))).toEqual({ outcome: 'ignored', reason: 'event_ignored' });
    expect(json(await mailgun(mailgunBody({ ...bounced(id), message: { headers: { 'message-id': '2013.1@mailgun.org' } } })))).toEqual({ outcome: 'ignored', reason: 'not_ours' });
    expect((await h.status(id)).state).toBe('pending');
    expect((await mailgun(mailgunBody({ event: 'complained', message: { headers: { 'message-id': `invite.${id}.1@inviteflow.local` } } }))).statusCode).toBe(202);
    expect((await h.until(id, (s) => s.state === 'undeliverable')).undeliverable?.kind).toBe('complaint');
  });

  it('refuses a forged, stale, unsigned or replayed call with 401, changing nothing', async () => {
    const { id } = await invite();
    const replayed = mailgunBody({ ...bounced(id), severity: 'temporary' });
    expect((await mailgun(replayed)).statusCode).toBe(200);
    for (const [what, body] of [
      ['another key', mailgunBody(bounced(id), { key: `key-${randomBytes(16).toString('hex')}` })],
      ['stale', mailgunBody(bounced(id), { timestamp: now() - 3600 })],
      ['unsigned', { 'event-data': bounced(id) }],
      ['a replayed token', { ...replayed, 'event-data': bounced(id) }],
    ] as const) {
      const res = await mailgun(body);
      expect(res.statusCode, what).toBe(401);
      expect(json(res).error.code, what).toBe('invalid_signature');
    }
    expect((await h.status(id)).state).toBe('pending');
  });

  it('logs no secret', () => {
    expectNoSecretsInLogs(h);
  });
});

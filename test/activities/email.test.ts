// The email activity over real SMTP: worker/mailer's pooled nodemailer transport talking to the
// mail catcher. Pins what the invited person receives (a link whose token verifies, the RFC 8058
// headers, a stable Message-ID) and how SMTP outcomes become retryable or final Temporal failures.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEmailActivities } from '../../activities/email';
import type { Mailer, SendInviteEmailInput } from '../../activities/email';
import { createMailer } from '../../worker/mailer';
import type { SmtpMailer } from '../../worker/mailer';
import { createLinkSigner, createLinkVerifier, generateLinkKey } from '../../lib/token';
import { InviteErrorType } from '../../workflows/errors';
import { startMailCatcher } from '../../emulators/mail';
import type { MailCatcher, ParsedMessage } from '../../emulators/mail';

const publicBaseUrl = 'https://invites.example.com';
const issuer = publicBaseUrl;
const audience = 'inviteflow-link';
// A sender name that needs encoding, to see it arrive whole.
const from = { name: 'Acme Café, Inc.', address: 'no-reply@acme.example' };

let catcher: MailCatcher;
let mailer: SmtpMailer;
let privateJwk: JWK;
let verifier: ReturnType<typeof createLinkVerifier>;
let activities: ReturnType<typeof createEmailActivities>;
let counter = 0;

const activitiesWith = (m: Mailer) =>
  createEmailActivities({
    mailer: m,
    linkSigner: createLinkSigner({ signingKey: privateJwk, issuer, audience }),
    publicBaseUrl,
    from,
    appName: 'Acme',
  });

// A distinct invite per test, so a message can be picked out by its invite id header.
const input = (overrides: Partial<SendInviteEmailInput> = {}): SendInviteEmailInput => ({
  inviteId: `inv_${Date.now().toString(36)}_${++counter}`,
  jti: `link-${counter}`,
  kind: 'invite',
  to: 'bob@example.com',
  locale: 'en',
  inviter: { name: 'Alice Martin', email: 'alice@acme.example' },
  scope: 'workspace:42',
  expiresAt: new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString(),
  sequence: 1,
  ...overrides,
});

const receivedFor = (inviteId: string) =>
  catcher.waitForMessage((m) => m.headers['x-inviteflow-invite-id'] === inviteId, 10_000);

function tokensIn(message: ParsedMessage): string[] {
  const pattern = /https:\/\/invites\.example\.com\/i\/([\w-]+\.[\w-]+\.[\w-]+)/g;
  return [
    ...`${message.text}\n${message.html ?? ''}\n${message.headers['list-unsubscribe'] ?? ''}`.matchAll(
      pattern,
    ),
  ].map((m) => m[1]!);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return outcome as ApplicationFailure;
}

// A failure lands in Temporal history and the UI: it may say what happened, never with the
// recipient's address or any part of a link.
function expectNoSecrets(failure: ApplicationFailure, address: string): void {
  const visible = `${failure.message} ${JSON.stringify(failure.details)}`;
  expect(visible).not.toContain(address);
  expect(visible).not.toContain('eyJ');
  expect(visible).not.toContain('/i/');
}

beforeAll(async () => {
  catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
  mailer = createMailer({ smtpUrl: catcher.smtpUrl });
  const key = await generateLinkKey('link-test');
  privateJwk = key.privateJwk;
  verifier = createLinkVerifier({ verificationKeys: [key.publicJwk], issuer, audience });
  activities = activitiesWith(mailer);
});

afterAll(async () => {
  await mailer?.close();
  await catcher?.close();
});

beforeEach(() => {
  catcher.setDown(false);
});

describe('sendEscalationEmail over SMTP', () => {
  it('tells the inviter, in the invite’s language, that the invite is still pending, with no link', async () => {
    const inviteId = `inv_esc_${Date.now().toString(36)}`;
    const expiresAt = '2026-12-02T10:00:00.000Z';
    const result = await activities.sendEscalationEmail({ inviteId, to: 'alice@acme.example', invitee: 'bob@example.com', locale: 'fr', scope: 'workspace:42', expiresAt });
    const message = await receivedFor(inviteId);
    expect(message.to).toEqual(['alice@acme.example']);
    expect(message.subject).toBe('Votre invitation à bob@example.com n’a pas encore été acceptée');
    expect(message.text).toContain('2 décembre 2026 à 10:00 UTC');
    expect(message.text).not.toContain('/i/');
    expect(message.headers['message-id']).toBe(`<escalation.${inviteId}.0@acme.example>`);
    expect(result.messageId).toBe(message.headers['message-id']);
    const bad = await activities
      .sendEscalationEmail({ inviteId, to: 'alice@acme.example, eve@evil.example', invitee: 'bob@example.com', locale: 'en', scope: 's', expiresAt })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApplicationFailure);
    expect((bad as ApplicationFailure).nonRetryable).toBe(true);
  });
});

describe('sendInviteEmail over SMTP', () => {
  it('delivers an email whose link token verifies to the invite, the link id and the expiry', async () => {
    const sent = input();
    const result = await activities.sendInviteEmail(sent);
    const message = await receivedFor(sent.inviteId);

    expect(message.to).toEqual(['bob@example.com']);
    expect(message.subject).toBe('Alice Martin invited you to join Acme');
    const tokens = tokensIn(message);
    expect(tokens.length).toBeGreaterThanOrEqual(3); // text, HTML button, List-Unsubscribe
    expect(new Set(tokens).size).toBe(1);
    const token = tokens[0]!;
    const claims = await verifier.verify(token);
    expect(claims).toEqual({
      inviteId: sent.inviteId,
      jti: sent.jti,
      expiresAt: new Date(Math.floor(Date.parse(sent.expiresAt) / 1000) * 1000),
    });

    // The token names the invite and the link, nothing about the person.
    const payload = Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8');
    expect(Object.keys(JSON.parse(payload)).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
    expect(payload).not.toContain('@');
    expect(payload).not.toContain('bob');
    expect(payload).not.toContain('workspace');

    expect(message.html).toContain(`href="${publicBaseUrl}/i/${token}"`);
    expect(message.text).toContain(`${publicBaseUrl}/i/${token}\n`);
    expect(result.messageId).toBe(message.headers['message-id']);
    expect(Number.isNaN(Date.parse(result.acceptedAt))).toBe(false);
  });

  it('comes from the configured sender name and writes the expiry in the invitee\'s time zone', async () => {
    const sent = input({ locale: 'fr', timeZone: 'Europe/Paris', expiresAt: '2026-12-02T10:00:00.000Z' });
    await activities.sendInviteEmail(sent);
    const message = await receivedFor(sent.inviteId);
    expect(message.from).toBe('"Acme Café, Inc." <no-reply@acme.example>');
    expect(message.mailFrom).toBe('no-reply@acme.example');
    expect(message.subject).toBe('Alice Martin vous invite à rejoindre Acme');
    expect(message.text).toContain('Cette invitation expire le 2 décembre 2026 à 11:00 UTC+1.');
    expect(`${message.text}${message.html}${message.from}`.toLowerCase()).not.toContain('inviteflow');
  });

  it('sets the one-click unsubscribe, auto-submitted and invite id headers', async () => {
    const sent = input();
    await activities.sendInviteEmail(sent);
    const message = await receivedFor(sent.inviteId);
    const token = tokensIn(message)[0]!;

    expect(message.headers['list-unsubscribe']).toBe(`<${publicBaseUrl}/i/${token}/decline>`);
    expect(message.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    expect(message.headers['auto-submitted']).toBe('auto-generated');
    expect(message.headers['x-inviteflow-invite-id']).toBe(sent.inviteId);
    expect(message.headers['message-id']).toBe(`<invite.${sent.inviteId}.1@acme.example>`);
    expect(message.headers['content-type']).toMatch(/^multipart\/alternative;/);
    expect(message.text).toContain('Decline the invitation and stop these emails');
    expect(message.html).toContain(`href="${publicBaseUrl}/i/${token}/decline"`);
  });

  it('gives a retried send the same Message-ID, and a later email its own, threaded under the first', async () => {
    const first = input();
    const attempt1 = await activities.sendInviteEmail(first);
    const attempt2 = await activities.sendInviteEmail(first);
    expect(attempt2.messageId).toBe(attempt1.messageId);

    const reminder = {
      ...first,
      kind: 'reminder' as const,
      jti: `${first.jti}-r`,
      sequence: 2,
      locale: 'fr',
    };
    const later = await activities.sendInviteEmail(reminder);
    expect(later.messageId).not.toBe(attempt1.messageId);
    const message = await catcher.waitForMessage((m) => m.headers['message-id'] === later.messageId);
    expect(message.headers['in-reply-to']).toBe(attempt1.messageId);
    expect(message.subject).toBe('Rappel\u00a0: Alice Martin vous invite à rejoindre Acme');
    expect((await verifier.verify(tokensIn(message)[0]!)).jti).toBe(reminder.jti);

    const sameId = catcher.messages().filter((m) => m.headers['message-id'] === attempt1.messageId);
    expect(sameId).toHaveLength(2);
  });

  it('fails retryably (Transient) while the mail server answers 421, then recovers', async () => {
    // One send first, so the outage starts with a connection already pooled (nodemailer requeues
    // onto new connections, which meet the 421 too); then a fresh transport that meets it at once.
    await activities.sendInviteEmail(input());
    catcher.setDown(true);
    const pooled = await failureOf(activities.sendInviteEmail(input()));
    expect(pooled.type).toBe(InviteErrorType.Transient);
    expect(pooled.nonRetryable).toBe(false);
    expectNoSecrets(pooled, 'bob@example.com');

    const fresh = createMailer({ smtpUrl: catcher.smtpUrl });
    try {
      const atGreeting = await failureOf(activitiesWith(fresh).sendInviteEmail(input()));
      expect(atGreeting.type).toBe(InviteErrorType.Transient);
      expect(atGreeting.nonRetryable).toBe(false);
      expect(atGreeting.details?.[0]).toMatchObject({ responseCode: 421 });
    } finally {
      await fresh.close();
    }

    catcher.setDown(false);
    const sent = input();
    await activities.sendInviteEmail(sent);
    expect((await receivedFor(sent.inviteId)).to).toEqual(['bob@example.com']);
  });

  it('fails for good (Permanent, non-retryable) when the server refuses the mailbox with 550', async () => {
    const to = 'reject-550@example.com';
    const failure = await failureOf(activities.sendInviteEmail(input({ to })));
    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details?.[0]).toMatchObject({
      responseCode: 550,
      enhancedStatus: '5.1.1',
      command: 'RCPT TO',
    });
    expectNoSecrets(failure, to);
  });

  it('retries a temporary mailbox refusal (452)', async () => {
    const to = 'reject-452@example.com';
    const failure = await failureOf(activities.sendInviteEmail(input({ to })));
    expect(failure.type).toBe(InviteErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    expectNoSecrets(failure, to);
  });

  it('retries when nothing listens on the SMTP port', async () => {
    const port = await closedPort();
    const nowhere = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}` });
    try {
      const failure = await failureOf(activitiesWith(nowhere).sendInviteEmail(input()));
      expect(failure.type).toBe(InviteErrorType.Transient);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).toContain('ECONNREFUSED');
    } finally {
      await nowhere.close();
    }
  });

  it('refuses input that could add recipients or break the message, without sending', async () => {
    const before = catcher.messages().length;
    for (const bad of [
      { to: 'bob@example.com, eve@example.com' },
      { to: 'Bob <bob@example.com>' },
      { to: 'bob@example.com\r\nBcc: eve@example.com' },
      { sequence: 0 },
      { expiresAt: 'next tuesday' },
      { jti: '' },
    ]) {
      const failure = await failureOf(activities.sendInviteEmail(input(bad)));
      expect(failure.type).toBe(InviteErrorType.InvalidInput);
      expect(failure.nonRetryable).toBe(true);
      expectNoSecrets(failure, 'eve@example.com');
    }
    expect(catcher.messages()).toHaveLength(before);
  });
});

describe('SMTP error classification', () => {
  // nodemailer-shaped errors for the replies the catcher does not produce.
  const smtpError = (fields: Record<string, unknown>) =>
    Object.assign(new Error(`SMTP said something about bob@example.com`), fields);

  it.each([
    [
      '554 on DATA (content refused) → permanent',
      { code: 'EMESSAGE', command: 'DATA', responseCode: 554, response: '554 5.7.1 Spam' },
      true,
    ],
    [
      '550 on RCPT TO → permanent',
      { code: 'EENVELOPE', command: 'RCPT TO', responseCode: 550, response: '550 5.1.1 <bob@example.com>' },
      true,
    ],
    ['nodemailer refusing the envelope locally → permanent', { code: 'EENVELOPE', command: 'API' }, true],
    [
      '535 on AUTH (our credentials) → retryable',
      { code: 'EAUTH', command: 'AUTH PLAIN', responseCode: 535, response: '535 5.7.8 Bad' },
      false,
    ],
    [
      '550 on MAIL FROM (our sender) → retryable',
      { code: 'EENVELOPE', command: 'MAIL FROM', responseCode: 550, response: '550 5.7.1 No' },
      false,
    ],
    [
      '554 at the greeting (our relay) → retryable',
      { code: 'EPROTOCOL', command: 'CONN', responseCode: 554, response: '554 No service' },
      false,
    ],
    [
      '503 bad sequence → retryable',
      { code: 'EENVELOPE', command: 'RCPT TO', responseCode: 503, response: '503 5.5.1 Bad sequence' },
      false,
    ],
    [
      '451 on DATA → retryable',
      { code: 'EMESSAGE', command: 'DATA', responseCode: 451, response: '451 4.3.0 Later' },
      false,
    ],
    ['a timeout → retryable', { code: 'ETIMEDOUT', command: 'CONN' }, false],
    ['something unknown → retryable', {}, false],
  ])('%s', async (_name, fields, permanent) => {
    const failing: Mailer = { sendMail: () => Promise.reject(smtpError(fields)) };
    const failure = await failureOf(activitiesWith(failing).sendInviteEmail(input()));
    expect(failure.nonRetryable).toBe(permanent);
    expect(failure.type).toBe(permanent ? InviteErrorType.Permanent : InviteErrorType.Transient);
    expectNoSecrets(failure, 'bob@example.com');
  });

  it('treats a recipient listed as rejected in a successful reply as permanent', async () => {
    const partial: Mailer = {
      sendMail: () => Promise.resolve({ messageId: '<x@y>', accepted: [], rejected: ['bob@example.com'] }),
    };
    const failure = await failureOf(activitiesWith(partial).sendInviteEmail(input()));
    expect(failure.type).toBe(InviteErrorType.Permanent);
    expect(failure.nonRetryable).toBe(true);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

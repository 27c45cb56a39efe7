/**
 * The email activity: mints a fresh link token, renders the invite or reminder, and hands it to
 * an SMTP transport. Temporal owns retries, so SMTP outcomes become `ApplicationFailure`s that
 * say whether trying again can help. The token and the link are secrets: they appear in the
 * message only, never in an error, a failure detail or a log line.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { SendMailOptions } from 'nodemailer';
import type { LinkClaims } from '../lib/token';
import { InviteErrorType } from '../workflows/errors';
import { renderEscalationEmail, renderInviteEmail } from './templates';
import type { RenderedEmail } from './templates';

/** Input of `sendInviteEmail`. */
export interface SendInviteEmailInput {
  inviteId: string;
  /** The link id; the workflow generates a fresh one for every email. */
  jti: string;
  kind: 'invite' | 'reminder';
  /** Already-normalized email address. */
  to: string;
  /** `en`, `fr`, or anything else (falls back to `en`). */
  locale: string;
  /** The invitee's IANA time zone, in which dates are written; absent (runs from before it): UTC. */
  timeZone?: string;
  inviter?: { name?: string; email?: string };
  scope: string;
  /** ISO 8601; the invite expiry, also the link token's `exp`. */
  expiresAt: string;
  /** 1-based number of this email for the invite. */
  sequence: number;
}

/** Input of `sendEscalationEmail`: the inviter is told the invite is still pending. */
export interface SendEscalationEmailInput {
  inviteId: string;
  /** The inviter's address. */
  to: string;
  /** The invited address. */
  invitee: string;
  locale: string;
  /** The invite's IANA time zone; absent: UTC. */
  timeZone?: string;
  scope: string;
  /** ISO 8601. */
  expiresAt: string;
}

/** What the SMTP server accepted. */
export interface SentEmail {
  /** The Message-ID header, the same for every attempt at the same email. */
  messageId: string;
  acceptedAt: string;
}

/** The narrow part of a nodemailer transport the activity uses (`worker/mailer.ts` provides one). */
export interface Mailer {
  /** Sends one message; rejects with a nodemailer-shaped error (`responseCode`, `code`, `command`). */
  sendMail(
    message: SendMailOptions,
  ): Promise<{ messageId: string; accepted?: unknown[]; rejected?: unknown[] }>;
}

/** Dependencies of the email activity. */
export interface EmailDeps {
  mailer: Mailer;
  linkSigner: { mint(claims: LinkClaims): Promise<string> };
  /** Origin (and optional path prefix) of the public API, e.g. `https://invites.example.com`. */
  publicBaseUrl: string;
  /** The sender: its display name (`MAIL_FROM_NAME`) and address (`MAIL_FROM`). */
  from: { name: string; address: string };
  /** The application's name, as invitees know it (`APP_NAME`). */
  appName: string;
}

/** Builds the email activities around injected clients. */
export function createEmailActivities(deps: EmailDeps) {
  const baseUrl = deps.publicBaseUrl.replace(/\/+$/, '');
  const messageIdDomain = domainOf(deps.from.address) ?? new URL(baseUrl).hostname;
  const messageIdOf = (kind: 'invite' | 'escalation', inviteId: string, sequence: number) =>
    `<${messageIdLocalPart(kind, inviteId, sequence)}@${messageIdDomain}>`;

  /**
   * Sends a rendered email from our sender to one recipient: a refused recipient fails for good,
   * other failures as SMTP says.
   */
  const deliver = async (
    to: string,
    email: RenderedEmail,
    envelope: Pick<SendMailOptions, 'inReplyTo' | 'references' | 'headers'> & { messageId: string },
  ): Promise<SentEmail> => {
    let info: Awaited<ReturnType<Mailer['sendMail']>>;
    try {
      info = await deps.mailer.sendMail({ from: deps.from, to, subject: email.subject, text: email.text, html: email.html, ...envelope });
    } catch (err) {
      throw smtpFailure(err);
    }
    if (info.rejected !== undefined && info.rejected.length > 0) {
      throw ApplicationFailure.create({
        message: 'SMTP server rejected the recipient',
        type: InviteErrorType.Permanent,
        nonRetryable: true,
      });
    }
    return { messageId: envelope.messageId, acceptedAt: new Date().toISOString() };
  };

  return {
    /** Sends one invite or reminder email carrying a freshly minted link. */
    async sendInviteEmail(input: SendInviteEmailInput): Promise<SentEmail> {
      const expiresAt = validate(input);
      const token = await deps.linkSigner.mint({ inviteId: input.inviteId, jti: input.jti, expiresAt });
      const link = `${baseUrl}/i/${token}`;
      const declineLink = `${link}/decline`;
      const email = renderInviteEmail({
        kind: input.kind,
        locale: input.locale,
        timeZone: input.timeZone,
        appName: deps.appName,
        link,
        declineLink,
        expiresAt,
        inviter: input.inviter,
      });

      // Derived from the invite and the email's number, so a message re-sent by an activity retry
      // is recognisably the same one (many clients and archives deduplicate on Message-ID).
      const messageId = messageIdOf('invite', input.inviteId, input.sequence);
      // Reminders and resends thread under the first email.
      const firstMessageId = messageIdOf('invite', input.inviteId, 1);
      return deliver(input.to, email, {
        messageId,
        ...(input.sequence > 1 ? { inReplyTo: firstMessageId, references: [firstMessageId] } : {}),
        headers: {
          // RFC 8058 one-click: mailbox providers POST to the decline link. Providers only show
          // it for DKIM-signed mail whose signature covers both headers (the relay's job).
          'List-Unsubscribe': `<${declineLink}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          // RFC 3834 (and Exchange's equivalent): no vacation auto-replies to a no-reply sender.
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'OOF, AutoReply',
          'X-Inviteflow-Invite-Id': input.inviteId,
        },
      });
    },

    /** Tells the inviter that their invite is still pending close to its expiry. No link: nothing to redeem. */
    async sendEscalationEmail(input: SendEscalationEmailInput): Promise<SentEmail> {
      const expiresAt = new Date(input.expiresAt);
      if (!PLAIN_ADDRESS.test(input.to) || input.to.length > 254 || Number.isNaN(expiresAt.getTime())) {
        throw ApplicationFailure.create({ message: 'Invalid escalation email input: to, expiresAt', type: InviteErrorType.InvalidInput, nonRetryable: true });
      }
      const email = renderEscalationEmail({ locale: input.locale, timeZone: input.timeZone, appName: deps.appName, invitee: input.invitee, scope: input.scope, expiresAt });
      return deliver(input.to, email, {
        // One escalation per invite: retries resend the same message.
        messageId: messageIdOf('escalation', input.inviteId, 0),
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Inviteflow-Invite-Id': input.inviteId },
      });
    },
  };
}

// One plain address: a comma or angle bracket would let the input add recipients.
const PLAIN_ADDRESS = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/;

function validate(input: SendInviteEmailInput): Date {
  const problems: string[] = [];
  if (typeof input.inviteId !== 'string' || input.inviteId === '') problems.push('inviteId');
  if (typeof input.jti !== 'string' || input.jti === '') problems.push('jti');
  if (input.kind !== 'invite' && input.kind !== 'reminder') problems.push('kind');
  // One plain address: a comma or angle bracket would let the input add recipients.
  if (
    typeof input.to !== 'string' ||
    input.to.length > 254 ||
    !/^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/.test(input.to)
  ) {
    problems.push('to');
  }
  if (!Number.isInteger(input.sequence) || input.sequence < 1) problems.push('sequence');
  const expiresAt = new Date(input.expiresAt);
  if (typeof input.expiresAt !== 'string' || Number.isNaN(expiresAt.getTime())) problems.push('expiresAt');
  if (problems.length > 0) {
    // Field names only: the values include the address.
    throw ApplicationFailure.create({
      message: `Invalid email activity input: ${problems.join(', ')}`,
      type: InviteErrorType.InvalidInput,
      nonRetryable: true,
    });
  }
  return expiresAt;
}

interface SmtpErrorShape {
  code?: unknown;
  originalCode?: unknown;
  command?: unknown;
  responseCode?: unknown;
  response?: unknown;
  permanent?: unknown;
}

// Commands whose refusal is about this message or this recipient. A 5xx anywhere else (greeting,
// EHLO, AUTH, MAIL FROM) is about our relay or our configuration: failing the invite for it would
// fail every invite during a misconfiguration, so those are retried until someone fixes it.
const MESSAGE_COMMANDS = new Set(['RCPT TO', 'DATA']);

function smtpFailure(err: unknown): ApplicationFailure {
  const e: SmtpErrorShape = typeof err === 'object' && err !== null ? err : {};
  const code = errorCode(e.code);
  const originalCode = errorCode(e.originalCode);
  const command = typeof e.command === 'string' ? /^[A-Z][A-Z ]*[A-Z]/.exec(e.command)?.[0] : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  // Only the enhanced status code of the reply (RFC 3463, "5.1.1"): its text often quotes the address.
  const enhancedStatus =
    typeof e.response === 'string' ? /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(e.response)?.[1] : undefined;

  let permanent: boolean;
  if (responseCode !== undefined) {
    // nodemailer sets `permanent` for 5xx except 503 (bad sequence: a new session can succeed).
    const permanentReply =
      typeof e.permanent === 'boolean'
        ? e.permanent
        : responseCode >= 500 && responseCode < 600 && responseCode !== 503;
    permanent = permanentReply && command !== undefined && MESSAGE_COMMANDS.has(command);
  } else {
    // No reply at all: a network problem (retry), or nodemailer refusing the envelope or the
    // message before sending it, which it would do again.
    permanent = code === 'EENVELOPE' || code === 'EMESSAGE';
  }

  const where: string[] = [];
  if (responseCode !== undefined) where.push(String(responseCode));
  if (enhancedStatus !== undefined) where.push(enhancedStatus);
  if (command !== undefined) where.push(`during ${command}`);
  if (responseCode === undefined) where.push(...[code, originalCode].filter((c) => c !== undefined));
  const summary = where.length > 0 ? where.join(' ') : 'unknown error';
  const details = [
    {
      code: code ?? null,
      originalCode: originalCode ?? null,
      command: command ?? null,
      responseCode: responseCode ?? null,
      enhancedStatus: enhancedStatus ?? null,
    },
  ];
  return ApplicationFailure.create({
    message: permanent
      ? `SMTP server permanently refused the email (${summary})`
      : `Sending the email failed, will retry (${summary})`,
    type: permanent ? InviteErrorType.Permanent : InviteErrorType.Transient,
    nonRetryable: permanent,
    details,
  });
}

function errorCode(value: unknown): string | undefined {
  return typeof value === 'string' && /^E[A-Z0-9_]{1,30}$/.test(value) ? value : undefined;
}

// RFC 5322 dot-atom: an id that is not plain is base64url-encoded rather than sanitised, so two
// different invites can never share a Message-ID.
function messageIdLocalPart(kind: 'invite' | 'escalation', inviteId: string, sequence: number): string {
  const id = /^[A-Za-z0-9_-]{1,128}$/.test(inviteId)
    ? inviteId
    : `b64.${Buffer.from(inviteId).toString('base64url')}`;
  return `${kind}.${id}.${sequence}`;
}

function domainOf(from: string): string | undefined {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1];
}

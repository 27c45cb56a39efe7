/**
 * The invite and reminder emails, as pure functions of their input. Every value that reaches
 * the HTML part is escaped here, including the application's name and the links: inviter names
 * come from the funnel and are not ours to trust. Dates are written by `lib/locale.ts`, as on
 * every page the invitee sees.
 */
import { escapeHtml } from '../lib/html';
import { formatDateTime, resolveLocale } from '../lib/locale';
import type { SupportedLocale } from '../lib/locale';

export { resolveLocale, SUPPORTED_LOCALES } from '../lib/locale';
export type { SupportedLocale } from '../lib/locale';

/** What an invite or reminder email is made of. */
export interface InviteEmailInput {
  kind: 'invite' | 'reminder';
  /** A BCP 47 tag; its language picks the wording and the date format (fallback `en`). */
  locale: string;
  /** The application's name, as the invitee knows it. */
  appName: string;
  /** The invitee's IANA time zone, in which the expiry is written; absent: UTC. */
  timeZone?: string | undefined;
  /** The link the call-to-action opens. */
  link: string;
  /** The link that declines the invite and stops its emails. */
  declineLink: string;
  expiresAt: Date;
  inviter?: { name?: string; email?: string } | undefined;
}

/** A rendered email. */
export interface RenderedEmail {
  /** The locale whose wording was used. */
  locale: SupportedLocale;
  subject: string;
  html: string;
  text: string;
}

interface Wording {
  subject(kind: InviteEmailInput['kind'], product: string, inviterName: string | undefined): string;
  heading(product: string): string;
  intro(kind: InviteEmailInput['kind'], product: string, inviter: string | undefined): string;
  button: string;
  buttonFallback: string;
  expiry(date: string): string;
  footer: string;
  declineLabel: string;
  /** What introduces a link on its own line ("\u00a0:" in French). */
  colon: string;
}

// French wording avoids participles ("vous invite", "vous avez reçu une invitation") so nothing has
// to agree with the reader's gender, and a no-break space before ":" and "?" as French typography asks.
const WORDING: Record<SupportedLocale, Wording> = {
  en: {
    subject: (kind, product, inviter) =>
      (kind === 'reminder' ? 'Reminder: ' : '') +
      (inviter ? `${inviter} invited you to join ${product}` : `You're invited to join ${product}`),
    heading: (product) => `Join ${product}`,
    intro: (kind, product, inviter) =>
      kind === 'reminder'
        ? inviter
          ? `Just a reminder: ${inviter} invited you to join ${product}, and the invitation is still waiting for you.`
          : `Just a reminder: you have been invited to join ${product}, and the invitation is still waiting for you.`
        : inviter
          ? `${inviter} invited you to join ${product}.`
          : `You have been invited to join ${product}.`,
    button: 'Accept the invitation',
    buttonFallback: 'If the button does not work, copy this link into your browser:',
    expiry: (date) => `This invitation expires on ${date}.`,
    footer: 'Not expecting this invitation? You can safely ignore this email.',
    declineLabel: 'Decline the invitation and stop these emails',
    colon: ':',
  },
  fr: {
    subject: (kind, product, inviter) =>
      (kind === 'reminder' ? 'Rappel\u00a0: ' : '') +
      (inviter ? `${inviter} vous invite à rejoindre ${product}` : `Invitation à rejoindre ${product}`),
    heading: (product) => `Rejoindre ${product}`,
    intro: (kind, product, inviter) =>
      kind === 'reminder'
        ? inviter
          ? `Petit rappel\u00a0: ${inviter} vous invite à rejoindre ${product}, et l’invitation vous attend toujours.`
          : `Petit rappel\u00a0: vous avez reçu une invitation à rejoindre ${product}, et elle vous attend toujours.`
        : inviter
          ? `${inviter} vous invite à rejoindre ${product}.`
          : `Vous avez reçu une invitation à rejoindre ${product}.`,
    button: 'Accepter l’invitation',
    buttonFallback: 'Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur\u00a0:',
    expiry: (date) => `Cette invitation expire le ${date}.`,
    footer: 'Vous ne vous attendiez pas à cette invitation\u00a0? Vous pouvez ignorer cet e-mail.',
    declineLabel: 'Refuser l’invitation et ne plus recevoir ces e-mails',
    colon: '\u00a0:',
  },
};

/** Renders the subject, HTML and plain-text parts of an invite or reminder email. */
export function renderInviteEmail(input: InviteEmailInput): RenderedEmail {
  const locale = resolveLocale(input.locale);
  const w = WORDING[locale];
  const product = singleLine(input.appName);
  const inviter = describeInviter(input.inviter);
  const expiry = w.expiry(formatDateTime(input.expiresAt, locale, input.timeZone));
  const subject = w.subject(input.kind, product, inviter?.short);
  const intro = w.intro(input.kind, product, inviter?.full);

  const text = [
    intro,
    '',
    `${w.button}${w.colon}`,
    input.link,
    '',
    expiry,
    '',
    '--',
    w.footer,
    `${w.declineLabel}${w.colon}`,
    input.declineLink,
    '',
  ].join('\n');

  const e = escapeHtml;
  const link = e(input.link);
  const html = `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(subject)}</title>
</head>
<body style="margin:0;padding:0;background:#f4f4f7;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2330;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f7;">
<tr><td align="center" style="padding:32px 16px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;">
<tr><td style="padding:32px;">
<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;">${e(w.heading(product))}</h1>
<p style="margin:0 0 24px;font-size:16px;line-height:1.5;">${e(intro)}</p>
<table role="presentation" cellpadding="0" cellspacing="0" style="margin:0 0 24px;">
<tr><td style="border-radius:6px;background:#2a5bd7;">
<a href="${link}" style="display:inline-block;padding:12px 24px;font-size:16px;font-weight:600;color:#ffffff;text-decoration:none;border-radius:6px;">${e(w.button)}</a>
</td></tr>
</table>
<p style="margin:0 0 8px;font-size:14px;line-height:1.5;color:#4a4f5c;">${e(expiry)}</p>
<p style="margin:0 0 8px;font-size:13px;line-height:1.5;color:#6b7080;">${e(w.buttonFallback)}</p>
<p style="margin:0 0 24px;font-size:13px;line-height:1.5;word-break:break-all;"><a href="${link}" style="color:#2a5bd7;">${link}</a></p>
<hr style="border:none;border-top:1px solid #e4e6eb;margin:24px 0;">
<p style="margin:0;font-size:12px;line-height:1.5;color:#6b7080;">${e(w.footer)} <a href="${e(input.declineLink)}" style="color:#6b7080;">${e(w.declineLabel)}</a>.</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;

  return { locale, subject, html, text };
}

// The body names the inviter in full ("Alice Martin (alice@example.com)") so the reader can tell
// who it is; the subject keeps it short. Values are cut short and kept on one line: they reach
// the Subject header, where a line break would start a new header.
function describeInviter(inviter: InviteEmailInput['inviter']): { short: string; full: string } | undefined {
  const name = inviter?.name === undefined ? '' : singleLine(inviter.name).slice(0, 100);
  const email = inviter?.email === undefined ? '' : singleLine(inviter.email).slice(0, 254);
  if (name && email) return { short: name, full: `${name} (${email})` };
  const either = name || email;
  return either ? { short: either, full: either } : undefined;
}

function singleLine(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we remove
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}

/** What the inviter's escalation email is made of. */
export interface EscalationEmailInput {
  /** The inviter's locale (the invite's); its language picks the wording. */
  locale: string;
  appName: string;
  /** The invite's time zone, in which the expiry is written; absent: UTC. */
  timeZone?: string | undefined;
  /** The invited address, which the inviter chose. */
  invitee: string;
  scope: string;
  expiresAt: Date;
}

const ESCALATION: Record<SupportedLocale, { subject(invitee: string): string; body(invitee: string, product: string, scope: string, date: string): string[] }> = {
  en: {
    subject: (invitee) => `Your invitation to ${invitee} has not been accepted yet`,
    body: (invitee, product, scope, date) => [
      `The invitation you sent to ${invitee} to join ${product} (${scope}) has not been accepted yet.`,
      `It expires on ${date}. A personal note or a call often helps; you can also ask for it to be resent or extended.`,
    ],
  },
  fr: {
    subject: (invitee) => `Votre invitation à ${invitee} n’a pas encore été acceptée`,
    body: (invitee, product, scope, date) => [
      `L’invitation à rejoindre ${product} (${scope}) envoyée à ${invitee} n’a pas encore été acceptée.`,
      `Elle expire le ${date}. Un mot personnel ou un appel aide souvent\u00a0; elle peut aussi être renvoyée ou prolongée.`,
    ],
  },
};

/** Renders the email that tells an inviter their invite is still pending close to its expiry. */
export function renderEscalationEmail(input: EscalationEmailInput): RenderedEmail {
  const locale = resolveLocale(input.locale);
  const w = ESCALATION[locale];
  const invitee = singleLine(input.invitee).slice(0, 254);
  const product = singleLine(input.appName);
  const scope = singleLine(input.scope);
  const date = formatDateTime(input.expiresAt, locale, input.timeZone);
  const subject = w.subject(invitee);
  const paragraphs = w.body(invitee, product, scope, date);
  const text = `${paragraphs.join('\n\n')}\n`;
  const html = `<!doctype html>
<html lang="${locale}">
<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2330;">
${paragraphs.map((p) => `<p style="font-size:15px;line-height:1.5;">${escapeHtml(p)}</p>`).join('\n')}
</body>
</html>
`;
  return { locale, subject, html, text };
}

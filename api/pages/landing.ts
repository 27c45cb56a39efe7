/**
 * The pages of the emailed link: the invitation itself, the decline confirmation, and a friendly
 * page for every way a link can fail, each in the invite's language (or the browser's, for a link
 * that names no invite we can read). None of them carries a stack trace or an internal reason.
 * Dates are written by `lib/locale.ts`, in the invitee's time zone, as in the emails.
 */
import { formatDateTime } from '../../lib/locale';
import type { SupportedLocale } from '../../lib/locale';
import { escapeHtml as e } from '../../lib/html';
import { page } from './layout';

/** Why a link shows a problem page instead of the invitation. */
export type LinkProblem = 'invalid' | 'expired' | 'link_expired' | 'revoked' | 'used' | 'replaced' | 'rate_limited' | 'unavailable' | 'not_found';

/** The HTTP status each problem page is sent with. */
export const PROBLEM_STATUS: Record<LinkProblem, number> = {
  invalid: 404,
  not_found: 404,
  expired: 410,
  link_expired: 410,
  revoked: 410,
  used: 410,
  replaced: 410,
  rate_limited: 429,
  unavailable: 503,
};

/** An expiry as the invitee reads it. */
export interface PageDate {
  at: string | Date;
  /** The invitee's IANA time zone; absent: UTC. */
  timeZone?: string | undefined;
}

// French wording avoids participles that would have to agree with the reader's gender, and puts a
// no-break space before ":" "?" "!" as French typography asks.
const TEXT = {
  en: {
    inviteTitle: (app: string) => `You're invited to ${app}`,
    invitedBy: (who: string, app: string) => `<strong>${who}</strong> invited you to join ${app}.`,
    expires: (date: string) => `This invitation expires on ${date}.`,
    extended: (link: string, invite: string) =>
      `This invitation was extended to ${invite}. This link, from an earlier email, works until ${link}; after that, use the link in the most recent email about this invitation.`,
    continue: 'Continue',
    declineLink: 'Not interested? Decline and stop these emails',
    problems: {
      invalid: { title: 'This link is not valid', text: 'Check that you opened the whole link from your invitation email.' },
      not_found: { title: 'Page not found', text: 'There is nothing at this address.' },
      expired: { title: 'This invitation has expired', text: 'Ask the person who invited you to send a new invitation.' },
      link_expired: {
        title: 'This link has expired',
        text: 'The invitation was extended, and this link, from an earlier email, no longer works. Use the link in the most recent email about this invitation.',
      },
      revoked: { title: 'This invitation was withdrawn', text: 'It can no longer be used. Ask the person who invited you if you think this is a mistake.' },
      used: { title: 'This invitation was already accepted', text: 'If it was you, simply sign in.' },
      replaced: { title: 'This link was replaced', text: 'A newer invitation was sent to you; use the link in the most recent email.' },
      rate_limited: { title: 'Too many attempts', text: 'Please wait a minute and try again.' },
      unavailable: { title: 'Temporarily unavailable', text: 'We could not load your invitation. Please try again in a moment.' },
    } satisfies Record<LinkProblem, { title: string; text: string }>,
    signIn: (app: string) => `Sign in to ${app}`,
    declineTitle: (app: string) => `Decline the invitation to ${app}?`,
    declineText: (date: string) =>
      `You will not receive any more emails about it. Should you change your mind, the link in your email keeps working until ${date}.`,
    declineButton: 'Decline the invitation',
    keepButton: 'Keep the invitation',
    declinedTitle: 'Invitation declined',
    declinedText: (app: string) => `You will not receive any more emails about this invitation to ${app}.`,
    changedMind: 'Changed your mind? The invitation still works until it expires.',
    backToInvite: 'Back to the invitation',
  },
  fr: {
    inviteTitle: (app: string) => `Invitation à rejoindre ${app}`,
    invitedBy: (who: string, app: string) => `<strong>${who}</strong> vous invite à rejoindre ${app}.`,
    expires: (date: string) => `Cette invitation expire le ${date}.`,
    extended: (link: string, invite: string) =>
      `Cette invitation a été prolongée jusqu’au ${invite}. Ce lien, issu d’un e-mail précédent, fonctionne jusqu’au ${link}\u00a0; ensuite, utilisez le lien du dernier e-mail reçu pour cette invitation.`,
    continue: 'Continuer',
    declineLink: 'Cette invitation ne vous intéresse pas\u00a0? Refuser et ne plus recevoir ces e-mails',
    problems: {
      invalid: { title: 'Ce lien n’est pas valide', text: 'Vérifiez que vous avez ouvert le lien complet de l’e-mail d’invitation.' },
      not_found: { title: 'Page introuvable', text: 'Il n’y a rien à cette adresse.' },
      expired: { title: 'Cette invitation a expiré', text: 'Demandez une nouvelle invitation à la personne qui en est à l’origine.' },
      link_expired: {
        title: 'Ce lien a expiré',
        text: 'L’invitation a été prolongée, et ce lien, issu d’un e-mail précédent, ne fonctionne plus. Utilisez le lien du dernier e-mail reçu pour cette invitation.',
      },
      revoked: { title: 'Cette invitation a été retirée', text: 'Elle ne peut plus être utilisée. En cas d’erreur, contactez la personne à l’origine de l’invitation.' },
      used: { title: 'Cette invitation a déjà été acceptée', text: 'Si c’était vous, il vous suffit de vous connecter.' },
      replaced: { title: 'Ce lien a été remplacé', text: 'Une invitation plus récente vous a été envoyée\u00a0; utilisez le lien du dernier e-mail reçu.' },
      rate_limited: { title: 'Trop de tentatives', text: 'Merci de patienter une minute avant de réessayer.' },
      unavailable: { title: 'Service momentanément indisponible', text: 'Impossible de charger votre invitation. Merci de réessayer dans un instant.' },
    } satisfies Record<LinkProblem, { title: string; text: string }>,
    signIn: (app: string) => `Se connecter à ${app}`,
    declineTitle: (app: string) => `Refuser l’invitation à rejoindre ${app}\u00a0?`,
    declineText: (date: string) =>
      `Vous ne recevrez plus d’e-mails à son sujet. Si vous changez d’avis, le lien de votre e-mail fonctionne jusqu’au ${date}.`,
    declineButton: 'Refuser l’invitation',
    keepButton: 'Garder l’invitation',
    declinedTitle: 'Invitation refusée',
    declinedText: (app: string) => `Vous ne recevrez plus d’e-mails au sujet de cette invitation à rejoindre ${app}.`,
    changedMind: 'Vous changez d’avis\u00a0? L’invitation reste valable jusqu’à son expiration.',
    backToInvite: 'Revenir à l’invitation',
  },
} satisfies Record<SupportedLocale, unknown>;

// Links minted before an extend carry the earlier expiry; a minute's slack absorbs the token's
// whole-second `exp`.
const EXTENDED_SLACK_MS = 60_000;

const dateOf = (locale: SupportedLocale, date: PageDate) => formatDateTime(date.at, locale, date.timeZone);

/** The invitation: who invited, until when, and the Continue button. */
export function invitePage(opts: {
  locale: SupportedLocale;
  appName: string;
  inviterName?: string;
  expires: PageDate;
  /** The expiry this link's token carries (earlier than the invite's after an extend). */
  linkExpiresAt?: Date;
  continueUrl: string;
  declineUrl: string;
}): string {
  const t = TEXT[opts.locale];
  const app = e(opts.appName);
  const who = opts.inviterName ? `<p>${t.invitedBy(e(opts.inviterName), app)}</p>\n` : '';
  const inviteExpiry = dateOf(opts.locale, opts.expires);
  // After an extend, this link's own expiry is what the person needs to know, with the newer one.
  const validity =
    opts.linkExpiresAt && opts.linkExpiresAt.getTime() + EXTENDED_SLACK_MS < new Date(opts.expires.at).getTime()
      ? `<p class="muted" data-testid="link-validity">${e(t.extended(dateOf(opts.locale, { ...opts.expires, at: opts.linkExpiresAt }), inviteExpiry))}</p>`
      : `<p class="muted">${e(t.expires(inviteExpiry))}</p>`;
  return page(
    opts.locale,
    t.inviteTitle(opts.appName),
    `<h1>${e(t.inviteTitle(opts.appName))}</h1>
${who}${validity}
<p><a class="button" href="${e(opts.continueUrl)}" rel="noreferrer" data-testid="continue">${e(t.continue)}</a></p>
<p><a class="link" href="${e(opts.declineUrl)}" rel="noreferrer" data-testid="decline">${e(t.declineLink)}</a></p>`,
  );
}

/** A link that cannot be used, said kindly; `signInUrl` adds a button (for an accepted invite). */
export function problemPage(problem: LinkProblem, opts: { locale: SupportedLocale; appName: string; signInUrl?: string }): string {
  const t = TEXT[opts.locale];
  const { title, text } = t.problems[problem];
  const button = opts.signInUrl ? `<p><a class="button" href="${e(opts.signInUrl)}" rel="noreferrer">${e(t.signIn(opts.appName))}</a></p>\n` : '';
  return page(opts.locale, title, `<h1>${e(title)}</h1>\n<p>${e(text)}</p>\n${button}`);
}

/**
 * Asks before declining: a GET must change nothing (mail scanners prefetch), so the decision is a
 * POST, the same one-click body a mailbox provider sends (RFC 8058). Keeping the invitation is a
 * plain link back to it and changes nothing either.
 */
export function declineConfirmPage(opts: { locale: SupportedLocale; appName: string; expires: PageDate; keepUrl: string }): string {
  const t = TEXT[opts.locale];
  return page(
    opts.locale,
    t.declineTitle(opts.appName),
    `<h1>${e(t.declineTitle(opts.appName))}</h1>
<p>${e(t.declineText(dateOf(opts.locale, opts.expires)))}</p>
<div class="actions">
<form method="post" action="">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button class="button" type="submit" data-testid="confirm-decline">${e(t.declineButton)}</button>
</form>
<a class="button secondary" href="${e(opts.keepUrl)}" rel="noreferrer" data-testid="keep">${e(t.keepButton)}</a>
</div>`,
  );
}

/** After a decline; `inviteUrl` offers the way back while the invitation still works. */
export function declineDonePage(opts: { locale: SupportedLocale; appName: string; inviteUrl?: string }): string {
  const t = TEXT[opts.locale];
  const back = opts.inviteUrl
    ? `<p class="muted">${e(t.changedMind)}</p>\n<p><a class="button secondary" href="${e(opts.inviteUrl)}" rel="noreferrer" data-testid="back-to-invite">${e(t.backToInvite)}</a></p>\n`
    : '';
  return page(opts.locale, t.declinedTitle, `<h1>${e(t.declinedTitle)}</h1>\n<p>${e(t.declinedText(opts.appName))}</p>\n${back}`);
}

/**
 * The pages of the emailed link: the invitation itself, the decline confirmation, and a friendly
 * page for every way a link can fail. None of them carries a stack trace or an internal reason.
 */
import { escapeHtml as e, page } from './layout';

/** Why a link shows a problem page instead of the invitation. */
export type LinkProblem = 'invalid' | 'expired' | 'revoked' | 'used' | 'replaced' | 'rate_limited' | 'unavailable' | 'not_found';

/** The HTTP status each problem page is sent with. */
export const PROBLEM_STATUS: Record<LinkProblem, number> = {
  invalid: 404,
  not_found: 404,
  expired: 410,
  revoked: 410,
  used: 410,
  replaced: 410,
  rate_limited: 429,
  unavailable: 503,
};

const PROBLEMS: Record<LinkProblem, { title: string; text: string }> = {
  invalid: { title: 'This link is not valid', text: 'Check that you opened the whole link from your invitation email.' },
  not_found: { title: 'Page not found', text: 'There is nothing at this address.' },
  expired: { title: 'This invitation has expired', text: 'Ask the person who invited you to send a new invitation.' },
  revoked: { title: 'This invitation was withdrawn', text: 'It can no longer be used. Ask the person who invited you if you think this is a mistake.' },
  used: { title: 'This invitation was already accepted', text: 'If it was you, simply sign in.' },
  replaced: { title: 'This link was replaced', text: 'A newer invitation was sent to you; use the link in the most recent email.' },
  rate_limited: { title: 'Too many attempts', text: 'Please wait a minute and try again.' },
  unavailable: { title: 'Temporarily unavailable', text: 'We could not load your invitation. Please try again in a moment.' },
};

function formatExpiry(iso: string): string {
  return `${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso))} UTC`;
}

/** The invitation: who invited, until when, and the Continue button. */
export function invitePage(opts: {
  productName: string;
  inviterName?: string;
  expiresAt: string;
  continueUrl: string;
  declineUrl: string;
}): string {
  const who = opts.inviterName ? `<p><strong>${e(opts.inviterName)}</strong> invited you to join ${e(opts.productName)}.</p>` : '';
  return page(
    `You're invited to ${opts.productName}`,
    `<h1>You're invited to ${e(opts.productName)}</h1>
${who}<p class="muted">This invitation expires on ${e(formatExpiry(opts.expiresAt))}.</p>
<p><a class="button" href="${e(opts.continueUrl)}" rel="noreferrer">Continue</a></p>
<p><a class="link" href="${e(opts.declineUrl)}" rel="noreferrer">Not interested? Decline and stop these emails</a></p>`,
  );
}

/** A link that cannot be used, said kindly; `signInUrl` adds a button (for an accepted invite). */
export function problemPage(problem: LinkProblem, opts: { productName: string; signInUrl?: string }): string {
  const { title, text } = PROBLEMS[problem];
  const button = opts.signInUrl ? `<p><a class="button" href="${e(opts.signInUrl)}" rel="noreferrer">Sign in to ${e(opts.productName)}</a></p>` : '';
  return page(title, `<h1>${e(title)}</h1>\n<p>${e(text)}</p>\n${button}`);
}

/** Asks before declining: a GET must change nothing, so the decision is a POST. */
export function declineConfirmPage(opts: { productName: string }): string {
  return page(
    'Decline the invitation',
    `<h1>Decline the invitation to ${e(opts.productName)}?</h1>
<p>You will not receive any more emails about it. The link keeps working until it expires, should you change your mind.</p>
<form method="post" action="">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button class="button" type="submit">Decline and stop emails</button>
</form>`,
  );
}

/** After a decline. */
export function declineDonePage(opts: { productName: string }): string {
  return page(
    'Invitation declined',
    `<h1>Done</h1>\n<p>You will not receive any more emails about this invitation to ${e(opts.productName)}.</p>`,
  );
}

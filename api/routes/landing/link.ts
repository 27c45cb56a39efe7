/**
 * What an emailed link opens onto: the token verified, the invite read, and the reason it cannot
 * be used when it cannot (`LinkProblemError`, shown as a page).
 */
import { LinkTokenError } from '../../../lib/token';
import type { LinkClaims } from '../../../lib/token';
import type { InviteStatus } from '../../../workflows/messages';
import type { RouteContext } from '../../context';
import type { LinkProblem } from '../../pages/landing';

export class LinkProblemError extends Error {
  /** `status`: the invite, when it could be read (its locale and time zone). */
  constructor(
    readonly problem: LinkProblem,
    readonly status?: InviteStatus,
  ) {
    super(`link problem: ${problem}`);
  }
}

/** A valid link of a pending invite. */
export interface OpenLink {
  link: LinkClaims;
  status: InviteStatus;
  inviterName?: string;
}

/** Whether the invite still takes its links: pending (or undeliverable) and not past its expiry. */
export const isOpen = (status: InviteStatus): boolean =>
  (status.state === 'pending' || status.state === 'undeliverable') && Date.parse(status.expiresAt) > Date.now();

/** The link's claims; a `LinkProblemError` for a bad or expired token. */
export async function verifyLink(ctx: RouteContext, token: string): Promise<LinkClaims> {
  try {
    return await ctx.linkVerifier.verify(token);
  } catch (err) {
    if (!(err instanceof LinkTokenError)) throw err;
    if (err.code !== 'ERR_LINK_EXPIRED') throw new LinkProblemError('invalid');
    throw await expiredLink(ctx, err.expired);
  }
}

/**
 * A genuine link past its token's expiry. Its invite may live on: an extend moves the invite's
 * expiry, not that of links already sent. Then the person is sent to the newer email.
 */
async function expiredLink(ctx: RouteContext, named: LinkTokenError['expired']): Promise<LinkProblemError> {
  if (!named) return new LinkProblemError('expired');
  try {
    const [status, issued] = await Promise.all([ctx.gateway.status(named.inviteId), ctx.gateway.linkIssued(named.inviteId, named.jti)]);
    return new LinkProblemError(issued && isOpen(status) ? 'link_expired' : 'expired', status);
  } catch {
    return new LinkProblemError('expired');
  }
}

/** Verifies the link and reads the invite; throws a `LinkProblemError` unless it can be used. */
export async function openLink(ctx: RouteContext, token: string): Promise<OpenLink> {
  const link = await verifyLink(ctx, token);
  const { gateway } = ctx;
  const [status, run, issued] = await Promise.all([
    gateway.status(link.inviteId),
    gateway.describe(link.inviteId),
    gateway.linkIssued(link.inviteId, link.jti),
  ]);
  if (!issued) throw new LinkProblemError('replaced', status);
  if (status.state === 'revoked') throw new LinkProblemError('revoked', status);
  if (status.state === 'expired' || Date.parse(status.expiresAt) <= Date.now()) throw new LinkProblemError('expired', status);
  // An undeliverable invite is still open: a link that did arrive still works.
  if (status.state !== 'pending' && status.state !== 'undeliverable') throw new LinkProblemError('used', status);
  // Pending in a closed run: ended from outside (terminated), so as good as revoked.
  if (!run.open) throw new LinkProblemError('revoked', status);
  const inviter = run.memo.inviter as { name?: unknown } | undefined;
  return { link, status, ...(typeof inviter?.name === 'string' && inviter.name ? { inviterName: inviter.name } : {}) };
}

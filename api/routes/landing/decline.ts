/**
 * `/i/:token/decline`: GET (and HEAD) asks to confirm; POST is the RFC 8058 one-click
 * unsubscribe, answered 200 even if already declined.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { InviteStatus } from '../../../workflows/messages';
import type { RouteContext } from '../../context';
import { declineConfirmPage, declineDonePage } from '../../pages/landing';
import { expiryOf, localeOf, pageSchema, sendPage, sendProblem } from './kit';
import type { LandingRoutes } from './kit';
import { isOpen, LinkProblemError, openLink, verifyLink } from './link';

// RFC 8058 allows both encodings for the one-click POST body.
export const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'];

export function registerDeclineConfirm({ app, ctx, perIp }: LandingRoutes): void {
  app.get('/i/:token/decline', { schema: pageSchema('Asks to confirm declining the invitation (consumes nothing)') }, async (request, reply) => {
    try {
      await perIp(request);
      const { status } = await openLink(ctx, request.params.token);
      const page = declineConfirmPage({
        locale: localeOf(request, status),
        appName: ctx.config.APP_NAME,
        expires: expiryOf(status),
        // From /i/<token>/decline back to /i/<token>, under whatever prefix the API is served.
        keepUrl: `../${request.params.token}`,
      });
      return sendPage(reply, 200, page);
    } catch (err) {
      return sendProblem(ctx, request, reply, err);
    }
  });
}

export function registerDecline({ app, ctx, perIp }: LandingRoutes): void {
  app.post(
    '/i/:token/decline',
    {
      schema: {
        ...pageSchema('Declines the invitation: no more emails (RFC 8058 one-click; 200 even if already declined)'),
        consumes: FORM_TYPES,
      },
    },
    async (request, reply) => {
      const { token } = request.params;
      try {
        await perIp(request);
        if (!isOneClick(request.body)) return sendProblem(ctx, request, reply, new LinkProblemError('invalid'), 400);
        const link = await declinableLink(ctx, token);
        if ('expired' in link) return declined(ctx, request, reply, token, link.status);
        await decline(ctx, link.inviteId);
        request.log.info({ inviteId: link.inviteId }, 'invite declined');
        // Only for the page's language and the way back; the decline is done either way.
        return declined(ctx, request, reply, token, await ctx.gateway.status(link.inviteId).catch(() => undefined));
      } catch (err) {
        return sendProblem(ctx, request, reply, err);
      }
    },
  );
}

/** The invite a decline link names, or its expiry (an expired invite sends nothing more anyway). */
type Declinable = { inviteId: string } | { expired: true; status: InviteStatus | undefined };

/** A link from before an extend still unsubscribes from the invite it came with. */
async function declinableLink(ctx: RouteContext, token: string): Promise<Declinable> {
  try {
    const { inviteId } = await verifyLink(ctx, token);
    return { inviteId };
  } catch (err) {
    if (!(err instanceof LinkProblemError)) throw err;
    if (err.problem === 'expired') return { expired: true, status: err.status };
    if (err.problem === 'link_expired' && err.status) return { inviteId: err.status.inviteId };
    throw err;
  }
}

/** Sends the decline; a closed invite sends nothing more either: only an unknown one is an error. */
async function decline(ctx: RouteContext, inviteId: string): Promise<void> {
  try {
    await ctx.gateway.decline(inviteId);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    if (!(await ctx.gateway.existence(inviteId)).exists) throw new LinkProblemError('invalid');
  }
}

/** The done page, with the way back to the invite while it is open. */
function declined(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, token: string, status: InviteStatus | undefined) {
  const page = declineDonePage({
    locale: localeOf(request, status),
    appName: ctx.config.APP_NAME,
    ...(status !== undefined && isOpen(status) ? { inviteUrl: `../${token}` } : {}),
  });
  return sendPage(reply, 200, page);
}

/** Whether a form body (urlencoded or multipart, as text) says `List-Unsubscribe=One-Click`. */
function isOneClick(body: unknown): boolean {
  if (typeof body !== 'string') return false;
  if (new URLSearchParams(body).get('List-Unsubscribe') === 'One-Click') return true;
  return /Content-Disposition:\s*form-data;\s*name="List-Unsubscribe"\r?\n(?:[^\r\n]+\r?\n)*\r?\n\s*One-Click\s*(?:\r?\n|$)/i.test(body);
}

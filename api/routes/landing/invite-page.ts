/** `GET /i/:token` (and HEAD): the invitation page, with Continue to the customer space's login. */
import type { InviteStatus } from '../../../workflows/messages';
import type { SupportedLocale } from '../../../lib/locale';
import type { RouteContext } from '../../context';
import { invitePage } from '../../pages/landing';
import { accountExists, expiryOf, localeOf, pageSchema, sendPage, sendProblem } from './kit';
import type { LandingRoutes } from './kit';
import { openLink } from './link';

export function registerInvitePage({ app, ctx, perIp, noteClick }: LandingRoutes): void {
  app.get('/i/:token', { schema: pageSchema('The invitation page of an emailed link (consumes nothing)') }, async (request, reply) => {
    try {
      await perIp(request);
      const { token } = request.params;
      const { link, status, inviterName } = await openLink(ctx, token);
      // A person (or a scanner that renders pages) opened the link; a HEAD is only a probe.
      if (request.method === 'GET') noteClick(request, link, status);
      const locale = localeOf(request, status);
      const html = invitePage({
        locale,
        appName: ctx.config.APP_NAME,
        ...(inviterName ? { inviterName } : {}),
        expires: expiryOf(status),
        linkExpiresAt: link.expiresAt,
        // A HEAD (a scanner's probe) needs the status code only: no account lookup.
        continueUrl: await continueUrl(ctx, token, status, locale, request.method === 'GET'),
        declineUrl: `${token}/decline`,
      });
      return sendPage(reply, 200, html);
    } catch (err) {
      return sendProblem(ctx, request, reply, err);
    }
  });
}

/** The customer space's login route with the link, and hints for Universal Login. */
async function continueUrl(ctx: RouteContext, token: string, status: InviteStatus, locale: SupportedLocale, lookUpAccount: boolean): Promise<string> {
  const url = new URL(ctx.config.APP_LOGIN_URL);
  url.searchParams.set('invite', token);
  // Under the `any` policy the link may have been forwarded: the invited address is no hint.
  if (status.emailPolicy === 'same-email') {
    url.searchParams.set('login_hint', status.email);
    if (lookUpAccount && (await accountExists(ctx, status.email)) === false) url.searchParams.set('screen_hint', 'signup');
  }
  // The login page and the customer space speak the invite's language.
  url.searchParams.set('ui_locales', status.locale ?? locale);
  return url.href;
}

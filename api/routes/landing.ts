/**
 * The pages the emailed link opens. Mail scanners prefetch links, so a GET (or HEAD) consumes
 * nothing: it verifies the token and runs the read-only status query, then shows the invitation
 * with a Continue button to the customer space's login route. Declining (RFC 8058 one-click
 * unsubscribe) is a POST. The token is a bearer secret: it is never logged (see `logging.ts`)
 * and the pages send no referrer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { acceptedLanguages, chooseLocale } from '../../lib/locale';
import type { SupportedLocale } from '../../lib/locale';
import { LinkTokenError } from '../../lib/token';
import type { LinkClaims } from '../../lib/token';
import type { InviteStatus } from '../../workflows/messages';
import type { RouteContext } from '../context';
import { ApiError } from '../errors';
import { PAGE_HEADERS } from '../pages/layout';
import { declineConfirmPage, declineDonePage, invitePage, PROBLEM_STATUS, problemPage } from '../pages/landing';
import type { LinkProblem } from '../pages/landing';
import { inboundLimit } from '../inbound-limiter';

// The account lookup only refines the button (screen_hint); the page never waits long for it.
const ACCOUNT_CHECK_TIMEOUT_MS = 1500;
const CLICK_NOTE_INTERVAL_MS = 10 * 60_000;
const MAX_CLICKS_REMEMBERED = 10_000;
// RFC 8058 allows both encodings for the one-click POST body.
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'];

class LinkProblemError extends Error {
  /** `status`: the invite, when it could be read (its locale and time zone). */
  constructor(
    readonly problem: LinkProblem,
    readonly status?: InviteStatus,
  ) {
    super(`link problem: ${problem}`);
  }
}

/** A valid link of a pending invite. */
interface OpenLink {
  link: LinkClaims;
  status: InviteStatus;
  inviterName?: string;
}

const tokenParams = z.object({ token: z.string().describe('The link token') });

/** Registers `/i/:token` (GET and HEAD) and `/i/:token/decline` (GET, HEAD, POST). */
export async function registerLandingRoutes(fastify: FastifyInstance, ctx: RouteContext): Promise<void> {
  // In a child scope: only these routes accept form bodies.
  await fastify.register((scope, _opts, done) => {
    for (const type of FORM_TYPES) {
      scope.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, parsed) => parsed(null, body));
    }
    routes(scope, ctx);
    done();
  });
}

function routes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { gateway, config } = ctx;
  const perIp = inboundLimit(fastify, 'landing-ip', ctx.limits.landingPerIp, (request) => request.ip);

  const send = (reply: FastifyReply, statusCode: number, html: string) => reply.code(statusCode).headers(PAGE_HEADERS).send(html);

  /** The invite's language, else the browser's (`Accept-Language`), else English. */
  const localeOf = (request: FastifyRequest, status?: InviteStatus): SupportedLocale =>
    chooseLocale([status?.locale, ...acceptedLanguages(request.headers['accept-language'])]);

  const sendProblem = (request: FastifyRequest, reply: FastifyReply, err: unknown, statusCode?: number) => {
    let problem: LinkProblem = 'unavailable';
    if (err instanceof LinkProblemError) problem = err.problem;
    else if (err instanceof ApiError && err.code === 'rate_limited') {
      problem = 'rate_limited';
      void reply.headers(err.headers);
    } else if (err instanceof ApiError && err.code === 'invite_not_found') problem = 'invalid';
    // Temporal did not answer (a restart): the page says so and carries the API's Retry-After.
    else if (err instanceof ApiError && err.code === 'service_unavailable') void reply.headers(err.headers);
    else request.log.error({ err }, 'link page failed');
    const signInUrl = problem === 'used' ? config.APP_LOGIN_URL : undefined;
    const locale = localeOf(request, err instanceof LinkProblemError ? err.status : undefined);
    return send(reply, statusCode ?? PROBLEM_STATUS[problem], problemPage(problem, { locale, appName: config.APP_NAME, ...(signInUrl ? { signInUrl } : {}) }));
  };

  const verify = async (token: string): Promise<LinkClaims> => {
    try {
      return await ctx.linkVerifier.verify(token);
    } catch (err) {
      if (!(err instanceof LinkTokenError)) throw err;
      if (err.code !== 'ERR_LINK_EXPIRED') throw new LinkProblemError('invalid');
      throw await expiredLink(err.expired);
    }
  };

  /**
   * A genuine link past its token's expiry. Its invite may live on: an extend moves the invite's
   * expiry, not that of links already sent. Then the person is sent to the newer email.
   */
  const expiredLink = async (named: LinkTokenError['expired']): Promise<LinkProblemError> => {
    if (!named) return new LinkProblemError('expired');
    try {
      const [status, issued] = await Promise.all([gateway.status(named.inviteId), gateway.linkIssued(named.inviteId, named.jti)]);
      const open = (status.state === 'pending' || status.state === 'undeliverable') && Date.parse(status.expiresAt) > Date.now();
      return new LinkProblemError(issued && open ? 'link_expired' : 'expired', status);
    } catch {
      return new LinkProblemError('expired');
    }
  };

  /** Verifies the link and reads the invite; throws a `LinkProblemError` unless it can be used. */
  const openLink = async (token: string): Promise<OpenLink> => {
    const link = await verify(token);
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
  };

  const continueUrl = async (token: string, status: InviteStatus, locale: SupportedLocale, lookUpAccount: boolean): Promise<string> => {
    const url = new URL(config.APP_LOGIN_URL);
    url.searchParams.set('invite', token);
    // Under the `any` policy the link may have been forwarded: the invited address is no hint.
    if (status.emailPolicy === 'same-email') {
      url.searchParams.set('login_hint', status.email);
      if (lookUpAccount && (await accountExists(status.email)) === false) url.searchParams.set('screen_hint', 'signup');
    }
    // The login page and the customer space speak the invite's language.
    url.searchParams.set('ui_locales', status.locale ?? locale);
    return url.href;
  };

  /** True, false, or undefined when the lookup failed or took too long (then no hint is given). */
  const accountExists = async (email: string): Promise<boolean | undefined> => {
    const stop = new AbortController();
    const timeout = sleep(ACCOUNT_CHECK_TIMEOUT_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    try {
      return await Promise.race([ctx.accountExists(email), timeout]);
    } catch {
      return undefined;
    } finally {
      stop.abort();
    }
  };

  // One note per link per CLICK_NOTE_INTERVAL_MS, whichever replica the reload lands on: this
  // process's memory answers first; otherwise the invite's own lifecycle says whether a click on
  // this link (named there by its email's number) was noted lately. Never awaited by the page.
  const clicks = new Map<string, number>();
  const noteClick = (request: FastifyRequest, link: LinkClaims, status: InviteStatus) => {
    const now = Date.now();
    const remember = (at: number) => {
      clicks.delete(link.jti);
      if (clicks.size >= MAX_CLICKS_REMEMBERED) clicks.delete(clicks.keys().next().value!);
      clicks.set(link.jti, at);
    };
    const last = clicks.get(link.jti);
    if (last !== undefined && now - last < CLICK_NOTE_INTERVAL_MS) return;
    remember(now);
    const sequence = status.emails.find((e) => e.linkId === link.jti)?.sequence;
    const noted = async () => {
      if (sequence !== undefined) {
        const { events } = await gateway.history(link.inviteId);
        const lastClick = events.findLast((e) => e.type === 'clicked' && e.sequence === sequence);
        const at = lastClick ? Date.parse(lastClick.at) : NaN;
        if (now - at < CLICK_NOTE_INTERVAL_MS) {
          remember(at);
          request.log.debug({ inviteId: link.inviteId }, 'click already noted');
          return;
        }
      }
      await gateway.note(link.inviteId, { type: 'clicked', linkId: link.jti });
      request.log.debug({ inviteId: link.inviteId }, 'click noted');
    };
    noted().catch((err: unknown) => {
      request.log.debug({ inviteId: link.inviteId, err }, 'click not noted');
    });
  };

  const pageSchema = (summary: string) => ({
    summary,
    description: "An HTML page in the invite's language (en, fr); for another locale, or a link that names no readable invite, in the Accept-Language header's, else English.",
    tags: ['links'],
    params: tokenParams,
    produces: ['text/html'],
  });

  app.get('/i/:token', { schema: pageSchema('The invitation page of an emailed link (consumes nothing)') }, async (request, reply) => {
    try {
      await perIp(request);
      const { link, status, inviterName } = await openLink(request.params.token);
      // A person (or a scanner that renders pages) opened the link; a HEAD is only a probe.
      if (request.method === 'GET') noteClick(request, link, status);
      const locale = localeOf(request, status);
      // A HEAD (a scanner's probe) needs the status code only: no account lookup.
      const url = await continueUrl(request.params.token, status, locale, request.method === 'GET');
      const html = invitePage({
        locale,
        appName: config.APP_NAME,
        ...(inviterName ? { inviterName } : {}),
        expires: expiryOf(status),
        linkExpiresAt: link.expiresAt,
        continueUrl: url,
        declineUrl: `${request.params.token}/decline`,
      });
      return send(reply, 200, html);
    } catch (err) {
      return sendProblem(request, reply, err);
    }
  });

  app.get('/i/:token/decline', { schema: pageSchema('Asks to confirm declining the invitation (consumes nothing)') }, async (request, reply) => {
    try {
      await perIp(request);
      const { status } = await openLink(request.params.token);
      const page = declineConfirmPage({
        locale: localeOf(request, status),
        appName: config.APP_NAME,
        expires: expiryOf(status),
        // From /i/<token>/decline back to /i/<token>, under whatever prefix the API is served.
        keepUrl: `../${request.params.token}`,
      });
      return send(reply, 200, page);
    } catch (err) {
      return sendProblem(request, reply, err);
    }
  });

  app.post(
    '/i/:token/decline',
    {
      schema: {
        ...pageSchema('Declines the invitation: no more emails (RFC 8058 one-click; 200 even if already declined)'),
        consumes: FORM_TYPES,
      },
    },
    async (request, reply) => {
      const done = (status?: InviteStatus) => {
        const open = status !== undefined && (status.state === 'pending' || status.state === 'undeliverable') && Date.parse(status.expiresAt) > Date.now();
        const page = declineDonePage({
          locale: localeOf(request, status),
          appName: config.APP_NAME,
          ...(open ? { inviteUrl: `../${request.params.token}` } : {}),
        });
        return send(reply, 200, page);
      };
      try {
        await perIp(request);
        if (!isOneClick(request.body)) return sendProblem(request, reply, new LinkProblemError('invalid'), 400);
        let link: Pick<LinkClaims, 'inviteId'>;
        try {
          link = await verify(request.params.token);
        } catch (err) {
          if (!(err instanceof LinkProblemError)) throw err;
          // An expired invite sends nothing more anyway.
          if (err.problem === 'expired') return done(err.status);
          // A link from before an extend still unsubscribes from the invite it came with.
          if (err.problem === 'link_expired' && err.status) link = { inviteId: err.status.inviteId };
          else throw err;
        }
        try {
          await gateway.decline(link.inviteId);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          // A closed invite sends nothing more either; only an unknown one is an error.
          if (!(await gateway.existence(link.inviteId)).exists) throw new LinkProblemError('invalid');
        }
        request.log.info({ inviteId: link.inviteId }, 'invite declined');
        // Only for the page's language and the way back; the decline is done either way.
        return done(await gateway.status(link.inviteId).catch(() => undefined));
      } catch (err) {
        return sendProblem(request, reply, err);
      }
    },
  );
}

/** The invite's expiry in the invitee's time zone (absent on runs from before send windows: UTC). */
function expiryOf(status: InviteStatus): { at: string; timeZone?: string } {
  return { at: status.expiresAt, ...(status.sendWindow ? { timeZone: status.sendWindow.timeZone } : {}) };
}

/** Whether a form body (urlencoded or multipart, as text) says `List-Unsubscribe=One-Click`. */
function isOneClick(body: unknown): boolean {
  if (typeof body !== 'string') return false;
  if (new URLSearchParams(body).get('List-Unsubscribe') === 'One-Click') return true;
  return /Content-Disposition:\s*form-data;\s*name="List-Unsubscribe"\r?\n(?:[^\r\n]+\r?\n)*\r?\n\s*One-Click\s*(?:\r?\n|$)/i.test(body);
}

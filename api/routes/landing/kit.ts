/** What the link page routes share: the typed app, the per-IP limit, and how a page is sent. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { acceptedLanguages, chooseLocale } from '../../../lib/locale';
import type { SupportedLocale } from '../../../lib/locale';
import type { InviteStatus } from '../../../workflows/messages';
import type { RouteContext } from '../../context';
import { ApiError } from '../../errors';
import { inboundLimit } from '../../inbound-limiter';
import type { InboundLimitCheck } from '../../inbound-limiter';
import { PAGE_HEADERS } from '../../pages/layout';
import { PROBLEM_STATUS, problemPage } from '../../pages/landing';
import type { LinkProblem } from '../../pages/landing';
import { withZod } from '../zod-app';
import type { ZodApp } from '../zod-app';
import { clickNotes } from './clicks';
import type { NoteClick } from './clicks';
import { LinkProblemError } from './link';

// The account lookup only refines the button (screen_hint); the page never waits long for it.
const ACCOUNT_CHECK_TIMEOUT_MS = 1500;

/** Handed to each page route's registrar. */
export interface LandingRoutes {
  app: ZodApp;
  ctx: RouteContext;
  perIp: InboundLimitCheck;
  noteClick: NoteClick;
}

export function landingRoutes(fastify: FastifyInstance, ctx: RouteContext): LandingRoutes {
  return {
    app: withZod(fastify),
    ctx,
    perIp: inboundLimit(fastify, 'landing-ip', ctx.limits.landingPerIp, (request) => request.ip),
    noteClick: clickNotes(ctx.gateway),
  };
}

const tokenParams = z.object({ token: z.string().describe('The link token') });

/** The OpenAPI schema of a page route. */
export const pageSchema = (summary: string) => ({
  summary,
  description: "An HTML page in the invite's language (en, fr); for another locale, or a link that names no readable invite, in the Accept-Language header's, else English.",
  tags: ['links'],
  params: tokenParams,
  produces: ['text/html'],
});

export const sendPage = (reply: FastifyReply, statusCode: number, html: string) => reply.code(statusCode).headers(PAGE_HEADERS).send(html);

/** The invite's language, else the browser's (`Accept-Language`), else English. */
export const localeOf = (request: FastifyRequest, status?: InviteStatus): SupportedLocale =>
  chooseLocale([status?.locale, ...acceptedLanguages(request.headers['accept-language'])]);

/** The page of whatever went wrong: a link problem, a limit, an unknown invite, Temporal away. */
export function sendProblem(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, err: unknown, statusCode?: number) {
  let problem: LinkProblem = 'unavailable';
  if (err instanceof LinkProblemError) problem = err.problem;
  else if (err instanceof ApiError && err.code === 'rate_limited') {
    problem = 'rate_limited';
    void reply.headers(err.headers);
  } else if (err instanceof ApiError && err.code === 'invite_not_found') problem = 'invalid';
  // Temporal did not answer (a restart): the page says so and carries the API's Retry-After.
  else if (err instanceof ApiError && err.code === 'service_unavailable') void reply.headers(err.headers);
  else request.log.error({ err }, 'link page failed');
  const signInUrl = problem === 'used' ? ctx.config.APP_LOGIN_URL : undefined;
  const locale = localeOf(request, err instanceof LinkProblemError ? err.status : undefined);
  const page = problemPage(problem, { locale, appName: ctx.config.APP_NAME, ...(signInUrl ? { signInUrl } : {}) });
  return sendPage(reply, statusCode ?? PROBLEM_STATUS[problem], page);
}

/** The invite's expiry in the invitee's time zone (absent on runs from before send windows: UTC). */
export function expiryOf(status: InviteStatus): { at: string; timeZone?: string } {
  return { at: status.expiresAt, ...(status.sendWindow ? { timeZone: status.sendWindow.timeZone } : {}) };
}

/** True, false, or undefined when the lookup failed or took too long (then no hint is given). */
export async function accountExists(ctx: RouteContext, email: string): Promise<boolean | undefined> {
  const stop = new AbortController();
  const timeout = sleep(ACCOUNT_CHECK_TIMEOUT_MS, undefined, { signal: stop.signal }).catch(() => undefined);
  try {
    return await Promise.race([ctx.accountExists(email), timeout]);
  } catch {
    return undefined;
  } finally {
    stop.abort();
  }
}

/**
 * The pages the emailed link opens. Mail scanners prefetch links, so a GET (or HEAD) consumes
 * nothing: it verifies the token and runs the read-only status query, then shows the invitation
 * with a Continue button to the customer space's login route. Declining (RFC 8058 one-click
 * unsubscribe) is a POST. The token is a bearer secret: it is never logged (see `logging.ts`)
 * and the pages send no referrer.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../context';
import { FORM_TYPES, registerDecline, registerDeclineConfirm } from './decline';
import { registerInvitePage } from './invite-page';
import { landingRoutes } from './kit';

/** Registers `/i/:token` (GET and HEAD) and `/i/:token/decline` (GET, HEAD, POST). */
export async function registerLandingRoutes(fastify: FastifyInstance, ctx: RouteContext): Promise<void> {
  // In a child scope: only these routes accept form bodies.
  await fastify.register((scope, _opts, done) => {
    for (const type of FORM_TYPES) {
      scope.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, parsed) => parsed(null, body));
    }
    const routes = landingRoutes(scope, ctx);
    registerInvitePage(routes);
    registerDeclineConfirm(routes);
    registerDecline(routes);
    done();
  });
}
